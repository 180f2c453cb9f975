"""Adapters that plug bp-helper into other tools; installed as ``bp_helper_integrations``.

Each adapter is thin: the token logic stays in :mod:`bp_helper`. This package imports nothing
itself, so that HTTPie, which imports every installed plugin at start-up, pays nothing for it.
"""
