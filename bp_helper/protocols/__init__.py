"""The credential-helper protocols: git's (:mod:`.git`) and docker's (:mod:`.docker`).

Each front-end is a thin parser and printer over
:func:`bp_helper.route.route` and
:class:`bp_helper.engine.service.TokenService`; :mod:`.wire` holds the input rules both share and
:mod:`.program` the two minimal executables' command lines.
"""
