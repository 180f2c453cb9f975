"""``bp-helper setup git|docker|containers [--remove [--all]]``: wire the helpers into the tools.

For each host the profile is bound to:

- git: ``credential.https://<host>.helper`` in the global config, through ``git config``
  (an empty value first, as ``gh auth setup-git`` does, so that helpers configured for every
  host do not answer for this one with something stale), all hosts in one edit under git's
  own lock (:mod:`bp_helper.commands.git_config`); a helper line of ours that is stale (the
  bare name when the helper is no longer on ``PATH``, another profile) is replaced;
- docker: ``credHelpers`` in ``$DOCKER_CONFIG/config.json`` (default ``~/.docker``);
- containers (podman, skopeo, buildah): ``credHelpers`` in ``$REGISTRY_AUTH_FILE``, else
  ``$XDG_RUNTIME_DIR/containers/auth.json``, else (root) ``/run/containers/0/auth.json``.

Running it again changes nothing; ``--remove`` takes out exactly what it added, and with
``--all`` what it added for any profile and host (to uninstall). Everything else in the
files stays; a file that is not valid JSON is refused and left alone. Edits of a JSON file
take turns (a lock beside it) and read it inside the lock; a symbolic link is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from bp_helper import log
from bp_helper.commands.git_config import GitConfigEdit, global_git_config
from bp_helper.config.settings import Settings, read_capped
from bp_helper.errors import ConfigError, UsageError
from bp_helper.files import MAX_PRIVATE_FILE, atomic_write, edit_lock, edit_target, make_dirs

HELPER = "bioprodict"
GIT_HELPER = f"git-credential-{HELPER}"
DOCKER_HELPER = f"docker-credential-{HELPER}"


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    if args.all and not args.remove:
        raise UsageError(f"--all goes with --remove: `bp-helper setup {args.tool} --remove --all`")
    hosts: list[str] | None = None if args.all else settings.value("hosts")
    if args.tool == "git":
        git_setup(hosts, settings, remove=args.remove)
    else:
        path = docker_config() if args.tool == "docker" else containers_auth_file()
        json_setup(path, hosts, remove=args.remove)
        if not args.remove:
            _check_on_path(DOCKER_HELPER, args.tool)
    return 0


# -- git -------------------------------------------------------------------------------------


def git_helper_value(profile: str) -> str:
    """What ``credential.<url>.helper`` holds: the short name when git can find the helper on
    ``PATH``, else its absolute path (git runs a helper given by absolute path as it is)."""
    name = HELPER
    found = shutil.which(GIT_HELPER)
    ours = _bin_dir() / GIT_HELPER
    if found is None or (ours.exists() and Path(found).resolve() != ours.resolve()):
        if ours.exists():
            name = str(ours)
        else:
            _check_on_path(GIT_HELPER, "git")
    return name if profile == "default" else f"{name} --profile {profile}"


def git_setup(hosts: list[str] | None, settings: Settings, *, remove: bool) -> None:
    """Add (or remove) the helper for ``hosts``; ``None`` with ``remove``: every helper line
    of ours, whatever its profile and host. One edit of the file: all of it lands, or none."""
    value = None if remove else git_helper_value(settings.profile)
    with GitConfigEdit(global_git_config()) as config:
        checked = config.git("--list", check=False)  # is the global config valid?
        if checked.returncode != 0 and "bad config" in checked.stderr:
            first = checked.stderr.strip().splitlines()[0]
            raise ConfigError(f"git cannot read its global config: {first}; fix it first")
        if hosts is None:
            keys = list(dict.fromkeys(_keys_with_our_helper(config)))
            profile = None
            if not keys:
                print("git: no bioprodict helper in the global git config: nothing to remove")
        else:
            keys = [f"credential.https://{host}.helper" for host in hosts]
            profile = settings.profile
        for key in keys:
            current = config.git("--get-all", key, check=False).stdout.splitlines()
            if value is None:
                _remove_git_helper(config, key, current, profile)
            else:
                _add_git_helper(config, key, current, value, settings.profile)


def _remove_git_helper(
    config: GitConfigEdit, key: str, current: list[str], profile: str | None
) -> None:
    mine = list(dict.fromkeys(v for v in current if is_our_git_helper(v, profile)))
    if not mine:
        print(f"git: {key} has no bioprodict helper: nothing to remove")
        return
    for ours in mine:  # only our lines: the user's stay where they are, comments and all
        config.git("--fixed-value", "--unset-all", key, ours)
    if [v for v in current if v not in mine] == [""]:  # the empty value setup put first
        config.git("--fixed-value", "--unset-all", key, "")
    section = key.rsplit(".", 1)[0]
    left = config.git("--get-regexp", "^" + _regex_escape(section) + r"\.", check=False)
    if not left.stdout.strip():
        config.git("--remove-section", section, check=False)
    print(f"git: removed {key} = {mine[0]}")


def _add_git_helper(
    config: GitConfigEdit, key: str, current: list[str], value: str, profile: str
) -> None:
    mine = [v for v in dict.fromkeys(current) if is_our_git_helper(v, profile)]
    working = [v for v in mine if v == value or _runs(v)]
    stale = [v for v in mine if v not in working]
    if working:
        print(f"git: {key} = {working[0]} already set")
    elif stale:  # ours, written before, but git would not find it now: replaced in place
        config.git("--fixed-value", "--replace-all", key, value, stale[0])
        for old in stale[1:]:
            config.git("--fixed-value", "--unset-all", key, old)
        print(f"git: replaced {key} = {stale[0]} with {value}")
    else:
        if not current:
            config.git("--add", key, "")  # no helper of every host answers for this one
        config.git("--add", key, value)
        print(f"git: set {key} = {value} (global git config)")


def _runs(helper: str) -> bool:
    """Whether a helper line written by an absolute path still names an executable."""
    base = helper.split(" --profile ", 1)[0]
    return os.path.isabs(base) and os.access(base, os.X_OK)


def _keys_with_our_helper(config: GitConfigEdit) -> list[str]:
    """The ``credential.*.helper`` keys holding a helper of ours, for any profile."""
    found = config.git("-z", "--get-regexp", r"^credential\..*\.helper$", check=False).stdout
    keys = []
    for entry in found.split("\0"):
        key, _, value = entry.partition("\n")
        if key and is_our_git_helper(value, None):
            keys.append(key)
    return keys


def is_our_git_helper(value: str, profile: str | None) -> bool:
    """Whether ``value`` is what setup writes for ``profile`` (by name or by absolute path);
    for ``None``, for any profile."""
    if profile is None:
        match = re.fullmatch(r"(.+?)(?: --profile [A-Za-z0-9][A-Za-z0-9._-]*)?", value)
        base = match[1] if match else value
    else:
        suffix = "" if profile == "default" else f" --profile {profile}"
        if not value.endswith(suffix):
            return False
        base = value[: len(value) - len(suffix)] if suffix else value
    return base == HELPER or (os.path.isabs(base) and Path(base).name == GIT_HELPER)


def _regex_escape(text: str) -> str:
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\/" else c for c in text)


# -- docker and containers (credHelpers in a JSON file) --------------------------------------


def docker_config() -> Path:
    folder = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    return Path(folder) / "config.json"


def containers_auth_file() -> Path:
    if os.environ.get("REGISTRY_AUTH_FILE"):
        return Path(os.environ["REGISTRY_AUTH_FILE"])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime and os.geteuid() == 0:
        return Path("/run/containers/0/auth.json")  # where podman keeps root's logins
    if not runtime:
        raise ConfigError(
            "neither REGISTRY_AUTH_FILE nor XDG_RUNTIME_DIR is set: set REGISTRY_AUTH_FILE to "
            "the auth.json your container tools use"
        )
    return Path(runtime) / "containers" / "auth.json"


def _read_json(path: Path) -> tuple[dict[str, Any], str | None, int | None]:
    """The file's object, its raw text (None: no file) and its mode."""
    try:
        content = read_capped(path, MAX_PRIVATE_FILE)
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return {}, None, None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if content is None:
        raise ConfigError(f"{path} is not a regular file of at most 1 MiB; not changed")
    try:
        raw = content.decode("utf-8")
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}): fix it first; not changed") from None
    if not isinstance(data, dict) or not isinstance(data.get("credHelpers", {}), dict):
        raise ConfigError(f"{path}: expected a JSON object with a credHelpers object; not changed")
    return data, raw, mode


def _dump_like(data: dict[str, Any], raw: str | None) -> str:
    """``data`` as JSON, indented like ``raw`` (docker writes tabs), with its final newline."""
    indent: str | int | None = "\t"
    if raw is not None:
        lines = [line for line in raw.splitlines()[1:] if line.strip()]
        if not lines:
            indent = None
        elif not lines[0].startswith("\t"):
            indent = len(lines[0]) - len(lines[0].lstrip(" "))
    text = json.dumps(data, indent=indent)
    ends = raw is None or raw.endswith("\n")
    return text + ("\n" if ends else "")


def json_setup(path: Path, hosts: list[str] | None, *, remove: bool) -> None:
    """Add (or remove) ``credHelpers`` entries for ``hosts``; ``None`` with ``remove``: every
    entry of ours. Under the file's lock, reading it inside; a symlink's target is edited."""
    target = edit_target(path)
    _read_json(target)  # a file that must not be read gets no lock file beside it either
    if not target.parent.is_dir():
        if remove:
            print(f"{path}: nothing to change")
            return
        make_dirs(target.parent)
    with edit_lock(target):
        _edit_json(path, target, hosts, remove=remove)


def _edit_json(path: Path, target: Path, hosts: list[str] | None, *, remove: bool) -> None:
    data, raw, mode = _read_json(target)
    helpers: dict[str, Any] = dict(data.get("credHelpers", {}))
    changes = []
    for host in [h for h, v in helpers.items() if v == HELPER] if hosts is None else hosts:
        now = helpers.get(host)
        if remove:
            if now == HELPER:
                del helpers[host]
                changes.append(f"removed credHelpers[{host!r}]")
        elif now is None:
            helpers[host] = HELPER
            changes.append(f"set credHelpers[{host!r}] = {HELPER!r}")
        elif now != HELPER:
            raise UsageError(
                f"{path}: credHelpers[{host!r}] is {now!r}: remove that entry first to use "
                f"{HELPER!r} for this host; not changed"
            )
    if not changes:
        print(f"{path}: nothing to change")
        return
    if helpers:
        data["credHelpers"] = helpers
    else:
        data.pop("credHelpers", None)
    if remove and not data and raw is not None and target == path:
        path.unlink()  # only our entries were left: the file goes, as before setup
        print(f"{path}: {'; '.join(changes)}; the file was left empty, so it was removed")
        return
    atomic_write(target, _dump_like(data, raw).encode("utf-8"), 0o600 if mode is None else mode)
    print(f"{path}: {'; '.join(changes)}")


def _bin_dir() -> Path:
    """Where this installation's executables are: next to its Python (a venv's bin)."""
    return Path(sys.executable).parent


def _check_on_path(program: str, tool: str) -> None:
    if shutil.which(program) is None:
        log.warn(
            f"{program} is not on PATH, so {tool} will not find it: add {_bin_dir()} to PATH "
            "(pipx and uv tool install put it in ~/.local/bin)"
        )
