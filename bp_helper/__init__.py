"""bp-helper: OAuth access tokens for the Bio-Prodict (3DM) APIs, cached and refreshed.

This file runs before any module of the package, the lean path of the cached answer
included, so it imports nothing but the version (not even ``typing``): the public names are
imported on first use.
"""

from bp_helper.version import __version__

TYPE_CHECKING = False  # type checkers treat this name as true; no `typing` import

if TYPE_CHECKING:
    from bp_helper.library.api import Status, ca_bundle, login, logout, status, token
    from bp_helper.library.httpx_auth import HttpxAuth
    from bp_helper.library.requests_auth import BioProdictAuth

__all__ = [
    "BioProdictAuth",
    "HttpxAuth",
    "Status",
    "__version__",
    "ca_bundle",
    "login",
    "logout",
    "status",
    "token",
]

# Public name -> the module that defines it, imported on first use (see the docstring); httpx
# is an optional extra, named with its install hint when missing.
_LAZY = {
    "BioProdictAuth": "bp_helper.library.requests_auth",
    "HttpxAuth": "bp_helper.library.httpx_auth",
    "Status": "bp_helper.library.api",
    "ca_bundle": "bp_helper.library.api",
    "login": "bp_helper.library.api",
    "logout": "bp_helper.library.api",
    "status": "bp_helper.library.api",
    "token": "bp_helper.library.api",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bp_helper' has no attribute {name!r}")
    if name == "HttpxAuth":
        try:
            import httpx  # noqa: F401
        except ImportError:
            from bp_helper.install import install_command

            raise ImportError(
                f"bp_helper.HttpxAuth needs httpx: {install_command('httpx')}"
            ) from None
    from importlib import import_module

    return getattr(import_module(module), name)
