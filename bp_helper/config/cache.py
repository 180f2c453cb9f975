"""The config file, parsed once per change: what the lean path of a cached answer reads.

Parsing TOML costs a cached ``get`` about a third of its time (``tomllib`` imports ``typing``
and ``datetime`` and compiles its patterns). So the profiles parsed from a config file are
kept in ``<state dir>/bp-helper/config-cache/`` (one JSON file per config file path, 0600 in a
0700 folder, written atomically, apart from the token store), keyed by the file's identity
(device, inode, size, mtime and ctime) and the CRC-32 of its content, with a host index: for
each ``host[:port]``, the profiles that the config file alone binds to it. The file is read
every time (it is small), so an edit is seen even when it keeps the size and falls within
one tick of the clock, the trap of keys made of sizes and times alone. What goes is the
parse. Secret values (``client_secret``) and the values of unknown keys are not copied:
the cache says only that they are there, and :class:`~bp_helper.config.settings.Settings`
parses the file again when it needs one (to refresh or log in, never on the cached path). A
cache that cannot be read, is not ours, or holds anything unexpected is ignored and written
anew; one that cannot be written costs only speed. Only a file that parsed cleanly is cached,
so a broken config fails with the same error every time. The cached path
(:mod:`bp_helper.quick`) reads a config file's settings from here too, with the same checks
(:func:`bp_helper.basics.cache_holds`), and leaves writing it to this module.

The host index lets :func:`bp_helper.config.profiles.bound_profiles` resolve only the
profiles that may serve a host instead of every profile in the file, so the cost of a
cached ``get`` does not grow with the number of profiles. It holds only while no flag or
environment variable sets ``hosts``, ``token_url`` or ``grant`` (they apply to every profile).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from bp_helper import log
from bp_helper.basics import CACHE_FORMAT, cache_file_name, cache_holds
from bp_helper.config.table import CONFIG_KEYS, SETTINGS, hosts_of_table
from bp_helper.crc import crc32
from bp_helper.errors import BpError
from bp_helper.files import atomic_write, ensure_private_dir, read_private_file, unsafe_dir_reason

FORMAT_VERSION = CACHE_FORMAT
# Config keys whose values the cache does not hold (see the module docstring).
SECRET_KEYS = frozenset(s.key for s in SETTINGS if s.secret and s.key)


class ParsedConfig(NamedTuple):
    """The profiles of a config file and which hosts the file alone binds them to."""

    profiles: dict[str, dict[str, Any]]
    hosts: dict[str, list[str]]  # host[:port] -> profiles bound to it
    unsure: list[str]  # profiles whose hosts or token_url are invalid: resolve them to see
    withheld: bool = False  # secret and unknown keys hold None: parse the file for them


def index(profiles: dict[str, dict[str, Any]]) -> ParsedConfig:
    """The host index of ``profiles`` (and of ``default``, which exists without a table)."""
    hosts: dict[str, list[str]] = {}
    unsure: list[str] = []
    for name in dict.fromkeys(["default", *sorted(profiles)]):
        table = profiles.get(name, {})
        try:
            bound = hosts_of_table(table)
        except BpError:
            unsure.append(name)
            continue
        for host in dict.fromkeys(bound):
            hosts.setdefault(host, []).append(name)
    return ParsedConfig(profiles, hosts, unsure)


class ConfigCache:
    """The cached parse of one config file's text, in ``<state dir>/config-cache/``.

    One cache file per config file path (:func:`cache_file_name`), so that programs using
    different config files (``--config``, ``BIOPRODICT_CONFIG``) do not undo each other's.
    """

    def __init__(self, state_dir: Path, config_path: Path) -> None:
        self.directory = state_dir / "config-cache"
        self.config_path = str(config_path)
        self.path = self.directory / cache_file_name(self.config_path)

    def load(self, raw: bytes, identity: list[int]) -> ParsedConfig | None:
        """The parse of ``raw`` if the cache holds it; ``None`` otherwise (then parse it).

        ``identity`` is the file's device, inode, size, mtime and ctime (nanoseconds): a file
        replaced, touched or changed is parsed again; its checksum covers edits within one
        tick of the clock that keep the size.
        """
        try:
            problem = unsafe_dir_reason(os.lstat(self.directory))
            if problem:
                raise ValueError(f"its folder {problem}")
            kept = read_private_file(self.path)
            if kept is None:
                return None
            data = json.loads(kept)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError too
            log.debug(f"config cache {self.path} ignored: {exc}")
            return None
        if not cache_holds(data, self.config_path, raw, identity):
            return None
        return ParsedConfig(data["profiles"], data["hosts"], data["unsure"], withheld=True)

    def save(self, raw: bytes, identity: list[int], parsed: ParsedConfig) -> None:
        """Keep ``parsed`` for ``raw``; a failure costs only speed, so it is not an error."""
        data = {
            "version": FORMAT_VERSION,
            "config": self.config_path,
            "identity": identity,
            "size": len(raw),
            "crc32": crc32(raw),
            "profiles": {name: _withheld(table) for name, table in parsed.profiles.items()},
            "hosts": parsed.hosts,
            "unsure": parsed.unsure,
        }
        try:
            content = json.dumps(data, allow_nan=True).encode()
        except (TypeError, ValueError):  # e.g. a TOML date in an (ignored) unknown key
            log.debug("config file not cached: it holds values JSON cannot keep")
            return
        try:
            ensure_private_dir(self.directory)
            atomic_write(self.path, content)
        except BpError as exc:
            log.debug(f"config file not cached: {exc.message}")


def _withheld(table: dict[str, Any]) -> dict[str, Any]:
    """``table`` with None for the values of secret and unknown keys (the keys stay)."""
    return {
        key: value if key in CONFIG_KEYS and key not in SECRET_KEYS else None
        for key, value in table.items()
    }
