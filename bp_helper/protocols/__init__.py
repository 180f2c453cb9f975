"""The credential-helper protocols: git's (:mod:`.git`) and docker's (:mod:`.docker`).

Each front-end is a thin parser and printer over :func:`bp_helper.binding.select_profile` and
:class:`bp_helper.tokens.TokenService`; :mod:`.wire` holds the input rules both share and
:mod:`.program` the two minimal executables' command lines.
"""
