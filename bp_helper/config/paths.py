"""The user's folders for bp-helper's config and state (as platformdirs names them)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP = "bp-helper"


def user_config_dir() -> Path:
    """``<user config dir>/bp-helper``, as platformdirs names it."""
    return _xdg_dir("XDG_CONFIG_HOME", "~/.config") or _platformdirs("user_config_dir")


def user_state_dir() -> Path:
    """``<user state dir>/bp-helper``, as platformdirs names it."""
    return _xdg_dir("XDG_STATE_HOME", "~/.local/state") or _platformdirs("user_state_dir")


def _xdg_dir(variable: str, fallback: str) -> Path | None:
    """The XDG answer on Linux, as the lean path finds the folders without platformdirs.

    Same rule as platformdirs (a test holds them equal): an absolute ``$XDG_*`` wins, else
    the fallback under an absolute home. Anything else is left to platformdirs.
    """
    if not sys.platform.startswith("linux"):
        return None
    value = os.environ.get(variable, "")
    if os.path.isabs(value):
        return Path(value, APP)
    home = os.environ.get("HOME")
    if home is None or not os.path.isabs(home):
        return None
    return Path(os.path.expanduser(fallback), APP)


def _platformdirs(kind: str) -> Path:
    return Path(getattr(platformdirs, kind)(APP, appauthor=False))
