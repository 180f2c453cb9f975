"""bp-helper: OAuth access tokens for the Bio-Prodict (3DM) APIs, cached and refreshed."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
