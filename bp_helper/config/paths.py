"""The user's folders for bp-helper's config and state (as platformdirs names them)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from bp_helper.basics import APP, xdg_dir

__all__ = ["APP", "user_config_dir", "user_state_dir"]


def user_config_dir() -> Path:
    """``<user config dir>/bp-helper``, as platformdirs names it."""
    return _xdg_dir("XDG_CONFIG_HOME", "~/.config") or _platformdirs("user_config_dir")


def user_state_dir() -> Path:
    """``<user state dir>/bp-helper``, as platformdirs names it."""
    return _xdg_dir("XDG_STATE_HOME", "~/.local/state") or _platformdirs("user_state_dir")


def _xdg_dir(variable: str, fallback: str) -> Path | None:
    """The XDG answer on Linux, the rule the cached path shares (see :func:`~bp_helper.basics
    .xdg_dir`); platformdirs answers elsewhere."""
    folder = xdg_dir(variable, fallback)
    return None if folder is None else Path(folder)


def _platformdirs(kind: str) -> Path:
    return Path(getattr(platformdirs, kind)(APP, appauthor=False))
