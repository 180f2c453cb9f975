"""Rules the cached path (:mod:`bp_helper.quick`) shares with the rest of bp-helper.

Every rule here is the one copy: the full path imports it from here (``files``, ``tokens``,
``config.paths``, ``config.settings``, ``config.cache``), and so does the cached path, which
answers a cached ``get`` before anything heavier is imported. So this module imports only
``os``, ``stat``, ``sys`` and ``_json`` (the C half of ``json``): no ``re``, ``pathlib``,
``json``, ``typing``, ``urllib``, ``zlib`` or ``hashlib``. Paths are strings here; callers that
hold a ``Path`` pass it on.
"""

import os
import stat
import sys
from _json import make_scanner

# No `from __future__ import annotations` (one import less on the cached path): names
# imported only for type checkers are quoted.
TYPE_CHECKING = False  # type checkers treat this name as true; no `typing` import

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

APP = "bp-helper"
MAX_PRIVATE_FILE = 1 << 20
TOKEN_FORMAT = 1  # the token store's file format (bp_helper.tokens.FORMAT_VERSION)
CACHE_FORMAT = 2  # the config cache's file format (bp_helper.config.cache)
DIGEST_PRIME = (1 << 61) - 1
MAX_CONFIG = 64 * 1024  # bytes of a config file

# -- private files (bp_helper.files) ------------------------------------------------------------


def unsafe_dir_reason(st: os.stat_result, check_mode: bool = True) -> str | None:
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid != os.geteuid():
        return f"is owned by uid {st.st_uid}, not by you"
    if check_mode and stat.S_IMODE(st.st_mode) & 0o077:
        return f"has mode {stat.S_IMODE(st.st_mode):04o} (expected 0700; run chmod 700 on it)"
    return None


def read_private_file(path: str | os.PathLike[str]) -> bytes | None:
    """The content of a file only we can read, ``None`` if it does not exist.

    Raises ``ValueError`` with the reason when the file exists but must not be trusted:
    a symlink, not a regular file, owned by someone else, readable by group or others,
    or larger than 1 MiB.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            raise ValueError("it is a symbolic link") from None
        raise ValueError(exc.strerror or str(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("it is not a regular file")
        if st.st_uid != os.geteuid():
            raise ValueError(f"it is owned by uid {st.st_uid}, not by you")
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise ValueError(f"it has mode {stat.S_IMODE(st.st_mode):04o} (expected 0600)")
        if st.st_size > MAX_PRIVATE_FILE:
            raise ValueError(f"it is too large ({st.st_size} bytes)")
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            if sum(map(len, chunks)) > MAX_PRIVATE_FILE:
                raise ValueError("it is too large")
        return b"".join(chunks)
    finally:
        os.close(fd)


def others_may_write(path: str | os.PathLike[str], st: os.stat_result) -> str | None:
    """Why someone else than you (or root) may have written ``path``, with the fix; else None.

    For what is read as settings (the config file and its folder): a file that another user
    owns or may write could name a command that the next run would execute.
    """
    if st.st_uid not in (0, os.geteuid()):
        return f"{path} is owned by uid {st.st_uid}, not by you: chown it, or remove it"
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022 and not (stat.S_ISDIR(st.st_mode) and mode & stat.S_ISVTX):
        return f"{path} is writable by others (mode {mode:04o}): run chmod go-w {path}"
    return None


# -- the config file (bp_helper.config.settings, bp_helper.config.paths) ---------------------


def read_capped(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """A regular file's content, ``None`` if it is not one or holds over ``limit`` bytes.

    Never blocks on a FIFO or a device (``/dev/zero``), never reads more than ``limit + 1``.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                return data
            data += chunk
        return None
    finally:
        os.close(fd)


def config_file_problem(path: str, st: os.stat_result) -> str | None:
    """Whether others may have written the config file, its folder or (for a symbolic link)
    its target's folder: its ``*_command`` settings are run."""
    folders = [os.path.dirname(path) or "."]
    if os.path.islink(path):
        folders.append(os.path.dirname(os.path.realpath(path)))
    for folder in folders:
        problem = others_may_write(folder, os.stat(folder))
        if problem:
            return problem
    return others_may_write(path, st)


def xdg_dir(variable: str, fallback: str) -> str | None:
    """``<$variable or fallback>/bp-helper`` on Linux, as platformdirs names it; ``None``:
    ask platformdirs (another system, or no absolute ``$XDG_*`` and no absolute home).

    Same rule as platformdirs (a test holds them equal), without importing it.
    """
    if not sys.platform.startswith("linux"):
        return None
    value = os.environ.get(variable, "")
    if os.path.isabs(value):
        return os.path.join(value, APP)
    home = os.environ.get("HOME")
    if home is None or not os.path.isabs(home):
        return None
    return os.path.join(os.path.expanduser(fallback), APP)


def digest(data: bytes) -> int:
    """A stable 61-bit digest of ``data`` that needs no module: its bytes read as one number,
    modulo the prime 2**61 - 1. It names a config file's cache and tells an edit of the file
    from the content the cache was made of (inputs of one length collide only when their
    difference is a multiple of the prime). Not a defence against whoever can write the file:
    they own its settings already."""
    return int.from_bytes(data, "little") % DIGEST_PRIME


def cache_file_name(config_path: str) -> str:
    """The config cache's file for the config file ``config_path`` (one per path)."""
    return f"{digest(os.fsencode(config_path)):016x}.json"


def cache_holds(data: "Any", config_path: str, raw: bytes, identity: list[int]) -> bool:
    """Is ``data`` (a parsed cache file) the well-formed parse of ``raw``, the content of the
    config file ``config_path`` whose identity is ``identity``?"""
    if not (
        isinstance(data, dict)
        and data.get("version") == CACHE_FORMAT
        and data.get("config") == config_path
        and data.get("identity") == identity
        and data.get("size") == len(raw)
        and data.get("digest") == digest(raw)
    ):
        return False
    profiles, hosts, unsure = (data.get(key) for key in ("profiles", "hosts", "unsure"))
    # Types compared as sets: a config file of 100 profiles is checked on every cached get.
    return (
        isinstance(profiles, dict)
        and set(map(type, profiles.values())) <= {dict}
        and isinstance(hosts, dict)
        and set(map(type, hosts.values())) <= {list}
        and {type(name) for names in hosts.values() for name in names} <= {str}
        and isinstance(unsure, list)
        and set(map(type, unsure)) <= {str}
    )


# -- hosts (bp_helper.config.hosts) ---------------------------------------------------------------

HOST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")


def plain_host(value: str) -> str | None:
    """:func:`~bp_helper.config.hosts.normalize_host` of a plain ``name[:port]`` (letters,
    digits, '.' and '-', a port of 1 to 65535 without leading zeros), without ``urllib``;
    ``None`` for anything else, which only :func:`normalize_host` may judge (a test holds
    the two equal wherever this one answers)."""
    value = value.strip()
    host, colon, port = value.partition(":")
    if not host or not all(char in HOST_CHARS for char in host):
        return None
    if not colon:
        return host.lower()
    if not (0 < len(port) <= 5 and port.isdigit() and port.isascii() and port[0] != "0"):
        return None
    if int(port) > 65535:
        return None
    return host.lower() if port == "443" else f"{host.lower()}:{port}"


def plain_netloc(url: str) -> str | None:
    """:func:`~bp_helper.config.hosts.netloc_of` of an ``https://name[:port][/path]`` URL
    whose ``name[:port]`` is plain (see :func:`plain_host`); ``None`` for anything else."""
    if not url.startswith("https://"):
        return None
    rest = url[len("https://") :]
    netloc = rest.split("/", 1)[0]
    if any(char in netloc for char in "?#") or netloc != netloc.strip():
        return None
    return plain_host(netloc)


# -- settings (bp_helper.config.settings, bp_helper.config.table) -------------------------------

PROFILE_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def valid_profile_name(name: str) -> bool:
    """1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit."""
    return (
        0 < len(name) <= 64
        and name[0] not in "._-"
        and all(char in PROFILE_NAME_CHARS for char in name)
    )


def seconds_in_range(number: float, limit_zero: bool) -> bool:
    """A number of seconds a setting may have: 0 (where ``limit_zero``) up to a day."""
    return 0 <= number <= 86400 and (limit_zero or number != 0)


def raw_setting(
    flag: str | None,
    env: tuple[str, ...],
    secret: bool,
    config_first: bool,
    name: str,
    flags: "Mapping[str, Any]",
    environ: "Mapping[str, str]",
    from_config: "Callable[[], tuple[Any, str] | None]",
) -> "tuple[Any, str] | None":
    """A setting's raw value and its source, by the resolver's order (the flag, the
    environment, the profile's config key; with ``config_first`` the key before the
    environment); ``None``: the default applies."""
    if flag and name in flags:
        return flags[name], f"flag {flag}"
    if config_first:
        found = from_config()
        if found is not None:
            return found
    for variable in env:
        if variable in environ and (environ[variable] or secret):
            return environ[variable], f"env {variable}"
    return None if config_first else from_config()


# -- tokens (bp_helper.tokens) ------------------------------------------------------------------

TOKEN_FIELDS: dict[str, tuple[type, ...]] = {
    "access_token": (str,),
    "expires_at": (int, float),
    "obtained_at": (int, float),
    "username": (str,),
    "token_url": (str,),
    "client_id": (str,),
    "refresh_token": (str, type(None)),
    "token_type": (str,),
    "fullname": (str, type(None)),
    "userid": (int, str, type(None)),
    "scope": (str, type(None)),
    "twofactor": (bool,),
    "login": (str,),
    "audience": (str, type(None)),
    "password_in_keyring": (bool,),
    "refresh_token_in_keyring": (bool,),
    "extra": (dict,),
}
# The fields a record must have (StoredToken's fields without a default; a test holds them).
TOKEN_REQUIRED = ("access_token", "expires_at", "obtained_at", "username", "token_url", "client_id")


def check_token_file(data: "Any") -> None:
    """``ValueError`` unless ``data`` (a parsed store file) is a token file of this version."""
    if not isinstance(data, dict) or data.get("version") != TOKEN_FORMAT:
        raise ValueError("it is not a bp-helper token file of this version")
    if not isinstance(data.get("accounts", {}), dict):
        raise ValueError("its field 'accounts' has the wrong type")


def token_values(data: "dict[str, Any]") -> "dict[str, Any]":
    """One account's record, checked field by field; ``ValueError`` says what is wrong."""
    values: dict[str, Any] = {}
    for key, types in TOKEN_FIELDS.items():
        if key not in data:
            continue
        if not isinstance(data[key], types) or isinstance(data[key], bool) is not (bool in types):
            raise ValueError(f"its field {key!r} has the wrong type")
        values[key] = data[key]
    if not all(key in values for key in TOKEN_REQUIRED):
        raise ValueError("it lacks required fields")
    return values


def other_accounts(data: "dict[str, Any]") -> "dict[str, dict[str, Any]]":
    """The records a token file keeps beside its default one, by account; ``ValueError``
    for one that is not an object."""
    others = data.get("accounts", {})
    for name, record in others.items():
        if not isinstance(record, dict):
            raise ValueError(f"its account {name!r} is not an object")
    return dict(others)


def account_record(data: "dict[str, Any]", account: str | None) -> "dict[str, Any] | None":
    """The checked record (:func:`token_values`) of ``account`` in a token file's ``data``:
    the default record when ``account`` is ``None`` or its own, else the one kept under
    ``accounts``; ``None`` when the file holds no such account."""
    record = token_values(data)
    if account is None or (record.get("login") or record["username"]) == account:
        return record
    other = other_accounts(data).get(account)
    return None if other is None else token_values({**other, "version": TOKEN_FORMAT})


def fresh(
    access_token: str, expires_at: float, obtained_at: float, margin: float, now: float
) -> bool:
    """Usable for at least ``margin`` more seconds (at most half the token's lifetime)."""
    return bool(access_token) and now < due_at(expires_at, obtained_at, margin)


def due_at(expires_at: float, obtained_at: float, margin: float) -> float:
    """When a refresh is due: ``margin`` seconds before expiry, at most half the lifetime."""
    lifetime = max(expires_at - obtained_at, 0.0)
    return expires_at - min(margin, lifetime / 2)


def sendable(access_token: str) -> bool:
    """Can ``access_token`` go into a header, a protocol line or a config file as it is?

    Printable ASCII without spaces (RFC 6750's b64token is a subset): nothing that could
    split a line, smuggle a header, or make an HTTP library refuse it, quoting it in full.
    """
    return (
        bool(access_token)
        and access_token.isascii()
        and access_token.isprintable()
        and (" " not in access_token)
    )


# -- JSON -------------------------------------------------------------------------------------


class _Context:
    """What ``_json.make_scanner`` reads of ``json.JSONDecoder``: its defaults."""

    def __init__(self) -> None:
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = None
        self.parse_float = float
        self.parse_int = int
        constants = {"-Infinity": -float("inf"), "Infinity": float("inf"), "NaN": float("nan")}
        self.parse_constant = constants.__getitem__
        self.memo: dict[str, str] = {}


_scan = make_scanner(_Context())  # type: ignore[arg-type]
_SPACE = " \t\n\r"  # what json skips around a document


def loads(raw: bytes) -> "Any":
    """``json.loads(raw)`` for UTF-8 without a BOM, with the C scanner alone (``json``
    imports ``re``); an exception for anything else (then ``json`` may judge it)."""
    text = raw.decode("utf-8")
    start = len(text) - len(text.lstrip(_SPACE))
    value, end = _scan(text, start)
    if text[end:].strip(_SPACE):
        raise ValueError("not one JSON document")
    return value
