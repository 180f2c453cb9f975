"""``bp-helper config set|get|unset|list|path``: the config file without an editor.

Keys and values are checked by the settings table's own conversions
(:data:`bp_helper.config.table.BY_NAME`), so a new setting row is settable at once. Secret
keys never come from the command line: a ``ps`` listing would show them.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bp_helper.commands.options import CONFIG_KEYS as KEYS
from bp_helper.config import toml_edit
from bp_helper.config.settings import Settings, read_config_file
from bp_helper.config.table import Setting
from bp_helper.errors import ConfigError, UsageError
from bp_helper.files import atomic_write, edit_lock, edit_target, make_dirs, others_may_write
from bp_helper.log import add_secret
from bp_helper.secrets.prompt import choose_prompter
from bp_helper.secrets.sources import strip_line


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.config_path
    if args.action == "path":
        print(path)
        return 0
    for name in ("key", "value"):
        _utf8(name, getattr(args, name))
    every = getattr(args, "all", False)  # callers such as `switch` pass action, key and value
    if every and args.action != "unset":
        raise UsageError("--all goes with unset: `bp-helper --profile NAME config unset --all`")
    if args.action == "list":
        _no_extra(args, "key", "value")
        return _list(settings)
    profile = settings.profile
    if args.action == "unset" and every:
        _no_extra(args, "key", "value")
        changed = _write(path, lambda text: toml_edit.remove_table(text, profile, path))
        print(
            f"Removed [profiles.{profile}] from {path}."
            if changed
            else f"[profiles.{profile}] was not in {path}."
        )
        return 0
    setting = _setting(args.key, args.action)
    if args.action == "get":
        _no_extra(args, "value")
        return _get(settings, setting)
    if args.action == "unset":
        _no_extra(args, "value")
        changed = _write(path, _edit(path, profile, setting, None))
        print(
            f"Removed {setting.key} from [profiles.{profile}] of {path}."
            if changed
            else f"{setting.key} was not set in [profiles.{profile}] of {path}."
        )
        return 0
    if setting.secret:
        if args.value is not None:
            raise UsageError(
                f"{setting.key} is a secret and is not taken from the command line (other users "
                f"could see it in `ps`): run `bp-helper config set {setting.key}` and type it, "
                "or give it on standard input"
            )
        table = _profiles(settings).get(profile)
        current = table.get(setting.key) if isinstance(table, dict) else None
        current = current if isinstance(current, str) else ""
        raw, asked = _read_secret(setting, profile, current)
        if asked and not raw and current:  # Enter at the prompt keeps it, as in aws configure
            print(f"{setting.key} of [profiles.{profile}] unchanged ({_masked(current)}).")
            return 0
    elif args.value is None:
        raise UsageError(f"give a value: `bp-helper config set {setting.key} VALUE`")
    else:
        raw = args.value
    _write(path, _edit(path, profile, setting, _stored(setting, raw)))
    shown = _masked(raw) if setting.secret else toml_edit.dump_value(_stored(setting, raw))
    print(f"Set {setting.key} = {shown} in [profiles.{profile}] of {path}.")
    return 0


def _utf8(name: str, value: str | None) -> None:
    """Refuse an argument that is not UTF-8 (Python holds its bytes as lone surrogates)."""
    try:
        (value or "").encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"{name.upper()} is not valid UTF-8 text (is the terminal's encoding UTF-8?); "
            "nothing was changed"
        ) from None


def _masked(secret: str) -> str:
    """A secret as `config set` confirms it: its last 4 characters (as `aws configure`
    does) when they are at most half of it, else only that it is set."""
    if not secret:
        return "(empty)"
    return f"****{secret[-4:]}" if len(secret) >= 8 else "(set)"


def _no_extra(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) is not None:
            raise UsageError(f"`bp-helper config {args.action}` takes no {name.upper()}")


def _setting(key: str | None, action: str) -> Setting:
    if not key:
        raise UsageError(f"`bp-helper config {action}` needs a KEY: one of {', '.join(KEYS)}")
    if key in KEYS:
        return KEYS[key]
    close = difflib.get_close_matches(key, KEYS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(f"unknown config key {key!r}: {hint}keys: {', '.join(KEYS)}")


def _stored(setting: Setting, raw: str) -> Any:
    """What goes into the file: checked by the setting's own conversion, then typed."""
    value = setting.convert(raw, f"{setting.key} (from the config command)")
    if isinstance(value, bool | int | float | list):
        return value
    return raw


def _read_secret(setting: Setting, profile: str, current: str) -> tuple[str, bool]:
    """The new secret from standard input, else asked (``True``: it was asked)."""
    if current:
        add_secret(current)
    asked = sys.stdin is None or sys.stdin.isatty()
    if not asked:
        try:
            value = strip_line(sys.stdin.read())
        except UnicodeDecodeError:
            raise UsageError(f"{setting.key} on standard input is not UTF-8 text") from None
    else:
        now = f"now {_masked(current)}, Enter keeps it; " if current else ""
        question = f"{setting.label} for profile {profile!r} ({now}not shown): "
        value = choose_prompter(False).ask(question, secret=True)
    if value:
        add_secret(value)
    return value, asked


def _load(path: Path) -> str:
    """The config file's text ("" if there is none), checked as every command checks it."""
    try:
        raw, _ = read_config_file(path)
    except FileNotFoundError:
        return ""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text: {exc}") from None


def _edit(path: Path, profile: str, setting: Setting, value: Any | None) -> Callable[[str], str]:
    """The change of ``setting`` to ``value`` (None: removed), for :func:`_write`."""
    assert setting.key is not None
    key = setting.key

    def change(text: str) -> str:
        if setting.secret and value == "":
            table = toml_edit.parse(text, path).get("profiles", {}).get(profile, {})
            if isinstance(table, dict) and table.get(key):
                raise UsageError(
                    f"no {setting.label} was given (empty input), so the one in "
                    f"[profiles.{profile}] was kept; to make it empty, run `bp-helper config "
                    f"unset {key}` first"
                )
        return toml_edit.edit(text, profile, key, value, path)

    return change


def _write(path: Path, change: Callable[[str], str]) -> bool:
    """Apply ``change`` to the config file's text, creating the file (and its folders, 0700)
    if need be; False when nothing changed.

    Edits of one file take turns (a lock beside it) and read it inside the lock, so that
    parallel edits all land. A symbolic link is kept: its target is edited.
    """
    target = edit_target(path)
    _load(path)  # a file that must not be read gets no lock file beside it either
    make_dirs(target.parent)
    problem = others_may_write(target.parent, os.stat(target.parent))
    if problem:
        raise ConfigError(f"config file not written: {problem}")
    with edit_lock(target):
        text = _load(path)
        new = change(text)
        if new == text:
            return False
        try:
            mode = os.stat(target).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o600
        if _holds_secret(toml_edit.parse(new, path)):
            mode &= 0o700  # a client secret is for the owner's eyes only
        atomic_write(target, new.encode("utf-8"), mode)
    return True


def _holds_secret(data: dict[str, Any]) -> bool:
    secrets = {key for key, s in KEYS.items() if s.secret}
    profiles = data.get("profiles", {})
    return any(secrets & set(table) for table in profiles.values() if isinstance(table, dict))


def _profiles(settings: Settings) -> dict[str, Any]:
    text = _load(settings.config_path)
    profiles: dict[str, Any] = toml_edit.parse(text, settings.config_path).get("profiles", {})
    return profiles


def _shown(setting: Setting, value: Any) -> str:
    if setting.secret:
        return "(set)"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _get(settings: Settings, setting: Setting) -> int:
    assert setting.key is not None
    table = _profiles(settings).get(settings.profile, {})
    if setting.key not in table:
        raise ConfigError(
            f"{setting.key} is not set in [profiles.{settings.profile}] of "
            f"{settings.config_path} (`bp-helper status` shows the value in use)"
        )
    if setting.secret:
        raise UsageError(
            f"{setting.key} is set, but a secret is not printed "
            "(`bp-helper status` says where each secret comes from)"
        )
    print(_shown(setting, table[setting.key]))
    return 0


def _list(settings: Settings) -> int:
    profiles = _profiles(settings)
    explicit = settings.resolve("profile").source != "default"
    for name, table in profiles.items():
        if (explicit and name != settings.profile) or not isinstance(table, dict):
            continue
        for key, value in table.items():
            shown = _shown(KEYS[key], value) if key in KEYS else str(value)
            print(f"profiles.{name}.{key}={shown}")
    return 0
