"""bp-helper: OAuth access tokens for the Bio-Prodict (3DM) APIs, cached and refreshed."""

from __future__ import annotations

from bp_helper.version import __version__

TYPE_CHECKING = False  # type checkers treat this name as true; no `typing` import

if TYPE_CHECKING:
    from bp_helper.library.requests_auth import BioProdictAuth

__all__ = ["BioProdictAuth", "__version__"]


def __getattr__(name: str) -> object:
    # Imported on first use, so that `import bp_helper` (and `bp-helper token`) stays cheap.
    if name == "BioProdictAuth":
        from bp_helper.library.requests_auth import BioProdictAuth

        return BioProdictAuth
    raise AttributeError(f"module 'bp_helper' has no attribute {name!r}")
