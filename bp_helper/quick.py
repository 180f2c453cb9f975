"""The cached path: ``git-credential-bioprodict get``, ``docker-credential-bioprodict get``
and ``bp-helper token`` answered from a fresh stored token, before anything heavy is imported.

git and docker start a helper for every request, so its start-up is what users wait for.
This module answers the common case, a fresh token in the store (for a host the settings
bind), with ``os``, ``sys`` and the C half of ``json``: no ``re``,
``pathlib``, ``typing``, ``tomllib``, ``urllib`` or ``requests``. Its rules are not its own:
input limits and answers come from :mod:`bp_helper.protocols.rules`, file, path, settings
and token rules from :mod:`bp_helper.basics`, the settings table from
:mod:`bp_helper.config.quick_table` (generated from :mod:`bp_helper.config.table`), a config
file's profiles and host index from the full path's config cache (:mod:`bp_helper.config
.cache`), checked as that module checks it.

Anything else goes to the full implementation (``protocols/git.py``, ``protocols/docker.py``,
``commands/cli.py``) before a byte is written, with the input read so far put back in front
of stdin: another action or option (``--debug``), input it would refuse, ``BIOPRODICT_TOKEN``,
host settings in the environment beside a config file, another grant, a stale or missing
token, a config file without a matching cache, any file or value it doubts, any exception.
It answers only when every check the full path makes passes, so answer and exit status are
the same either way (tests/test_quick.py and the protocol tests hold the two to that).

``BP_HELPER_FULL_PATH=1`` sends every request to the full path: the tests use it to run the
protocol tests against both paths. It can only make a helper slower, never make it answer
anything the full path would not.
"""

import io
import os
import sys
import time

from bp_helper import basics
from bp_helper.config import quick_table as table
from bp_helper.protocols import rules

# No `from __future__ import annotations` (an import less): type checkers' names are quoted.
TYPE_CHECKING = False  # type checkers treat this name as true; no `typing` import

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

FULL_PATH = "BP_HELPER_FULL_PATH"  # see the module docstring


class Miss(Exception):
    """Not a request this module answers: the full path will."""


def git_main(argv: "Sequence[str] | None" = None) -> int:
    """``git-credential-bioprodict``."""
    return _main("git", argv)


def docker_main(argv: "Sequence[str] | None" = None) -> int:
    """``docker-credential-bioprodict``."""
    return _main("docker", argv)


def token_main(argv: "Sequence[str] | None" = None) -> int:
    """``bp-helper``: ``bp-helper token`` alone is answered here, every other command by
    :func:`bp_helper.commands.cli.main`."""
    return _main("token", argv)


def _main(program: str, argv: "Sequence[str] | None") -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    seen: list[bytes] = []  # what was read of stdin, for the full path
    try:
        answer = _answer(program, args, seen)
    except KeyboardInterrupt as exc:  # Ctrl-C while waiting for input: as the full path says it
        return _exit_with(exc)
    except Exception:  # any doubt: the full path decides, and says what is wrong
        answer = None
    if answer is None:
        return _full_path(program, args, seen)
    try:
        sys.stdout.buffer.write(answer)
        sys.stdout.buffer.flush()
    except OSError as exc:  # a closed pipe, /dev/full: the one exit point reports it
        return _exit_with(exc)
    return 0


def _exit_with(exc: BaseException) -> int:
    """The exit status (and the one line) of the one exit point for ``exc``."""
    from bp_helper.errors import exit_status

    def failed() -> int:
        raise exc

    return exit_status(failed)


def _answer(program: str, args: list[str], seen: list[bytes]) -> bytes | None:
    """The answer to a cached ``get``; ``None`` (or an exception) sends it to the full path."""
    flags = _flags(args) if program != "token" else ({} if args == ["token"] else None)
    if flags is None or os.environ.get(FULL_PATH) or sys.stdin is None:
        return None
    from bp_helper import process  # no core dumps before a token is read

    process.prepare()
    if program == "token":  # the invocation's profile: no host, no request
        return (_cached(flags, None, None)[1] + "\n").encode()
    stdin = sys.stdin.buffer
    if program == "git":
        values = rules.parse_git(rules.read_lines(stdin, seen))
        if values["protocol"] != "https":  # plain http to loopback: the full path
            return None
        username = str(values["username"]) or None
        token = _cached(flags, _host(str(values["host"])), username)
        capabilities = frozenset(values["capability[]"])
        bearer = rules.wants_bearer(capabilities, tuple(values["wwwauth[]"]))
        return rules.git_answer(token[0], token[1], token[2], bearer)
    data = rules.read_all(stdin, rules.MAX_LINE, seen)
    url = rules.server_text(data)
    token = _cached(flags, _host(rules.docker_netloc(url)), None)
    return rules.docker_credentials(url, token[0], token[1])


def _flags(args: list[str]) -> dict[str, str] | None:
    """The helper options of a ``get`` (``--profile``, ``--config``); ``None`` otherwise."""
    flags: dict[str, str] = {}
    actions: list[str] = []
    items = iter(args)
    for item in items:
        name, equals, value = item.partition("=")
        if name in table.HELPER_FLAGS:
            value = value if equals else next(items, "")
            if not value:
                return None
            flags[table.HELPER_FLAGS[name]] = value
        elif item.startswith("-"):
            return None
        else:
            actions.append(item)
    return flags if actions == ["get"] else None


def _host(netloc: str) -> str:
    """``host[:port]`` as a profile's ``hosts`` lists it (https only)."""
    wanted = basics.plain_host(netloc)
    if wanted is None:
        raise Miss("a host only the full path may judge")
    return wanted


class _Profile:
    """One profile's settings, resolved as :class:`~bp_helper.config.settings.Settings`
    resolves them, from the flags, the environment and the profile's (cached) table."""

    def __init__(
        self,
        name: str,
        flags: dict[str, str],
        environ: "Mapping[str, str]",
        entries: "dict[str, Any]",
    ) -> None:
        if not basics.valid_profile_name(name):
            raise Miss("an invalid profile name")
        if set(entries) - table.CONFIG_KEYS:  # the full path warns about unknown keys
            raise Miss("unknown keys")
        self.name = name
        self.flags = flags
        self.environ = environ
        self.entries = entries

    def raw(self, name: str) -> "tuple[Any, str] | None":
        flag, env, key, _, secret, config_first = table.SETTINGS[name]

        def from_config() -> "tuple[Any, str] | None":
            return (self.entries[key], "config") if key and key in self.entries else None

        return basics.raw_setting(
            flag, env, secret, config_first, name, self.flags, self.environ, from_config
        )

    def value(self, name: str) -> "Any":
        found = self.raw(name)
        return table.SETTINGS[name][3] if found is None else found[0]

    def text(self, name: str) -> str:
        value = self.value(name)
        if not isinstance(value, str):
            raise Miss(f"{name} is not a string")
        return value

    def seconds(self, name: str, limit_zero: bool) -> float:
        value = self.value(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Miss(f"{name} only the full path may judge")
        if not basics.seconds_in_range(float(value), limit_zero=limit_zero):
            raise Miss(f"{name} out of range")
        return float(value)

    def is_set(self, name: str) -> bool:
        return self.raw(name) is not None or table.SETTINGS[name][3] is not None

    def hosts(self) -> list[str]:
        found = self.raw("hosts")
        if found is None:  # the default: the token URL's host, for the password grant
            if self.value("grant") != table.PASSWORD:
                raise Miss("another grant")
            netloc = basics.plain_netloc(self.text("token_url"))
            if netloc is None:
                raise Miss("a token URL only the full path may judge")
            return [netloc]
        items = found[0].split(",") if isinstance(found[0], str) else found[0]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise Miss("hosts is not a list of strings")
        hosts = [h for h in map(basics.plain_host, (i for i in items if i.strip())) if h]
        if not hosts or len(hosts) != len([i for i in items if i.strip()]):
            raise Miss("hosts only the full path may judge")
        return hosts


def _cached(
    flags: dict[str, str], wanted: str | None, username: str | None
) -> tuple[str, str, float]:
    """The account, access token and expiry of the fresh token for ``wanted`` (``None``: of
    the invocation's profile, as ``bp-helper token`` asks)."""
    environ = os.environ
    if table.SETTINGS["token"][1][0] in environ:  # BIOPRODICT_TOKEN: the full path
        raise Miss("a token in the environment")
    base = _Profile("default", flags, environ, {})
    explicit = base.raw("profile") is not None
    profiles, index, unsure = _config(base)
    if explicit:
        names = [base.text("profile")]
        if names[0] not in profiles and names[0] != "default":
            raise Miss("a profile the config file lacks")
    else:
        names = list(dict.fromkeys(["default", *sorted(profiles)]))
    if wanted is None:  # the invocation's profile (flag, BIOPRODICT_PROFILE, else default)
        name = names[0]
        return _token(_Profile(name, {**flags, "profile": name}, environ, profiles.get(name, {})))
    by_index = index is not None and not explicit and not any(map(base.raw, table.HOST_SETTINGS))
    if by_index:  # the profiles the config file alone binds to the host, as the full path
        assert index is not None
        bound = index.get(wanted, ())
        names = [n for n in names if n in bound or n in unsure]
        if any(n in unsure for n in names):
            raise Miss("a profile only the full path may judge")
    matches = [_Profile(n, {**flags, "profile": n}, environ, profiles.get(n, {})) for n in names]
    if not by_index:
        matches = [m for m in matches if wanted in m.hosts()]
    if not matches or (username and len(matches) > 1):
        raise Miss("no profile, or a choice the full path makes")
    chosen = matches[0]
    if username is not None:
        chosen = _Profile(
            chosen.name, {**chosen.flags, "username": username}, environ, chosen.entries
        )
    return _token(chosen)


def _config(base: _Profile) -> "tuple[dict[str, Any], dict[str, list[str]] | None, list[str]]":
    """The config file's profiles, its host index (``None`` without a config file) and the
    profiles the index could not judge, from the config cache."""
    found = base.raw("config")
    if found is None:
        folder = basics.xdg_dir("XDG_CONFIG_HOME", "~/.config")
        if folder is None:
            raise Miss("a config folder only platformdirs knows")
        path = _plain_path(os.path.join(folder, "config.toml"))
    else:
        path = _plain_path(found[0])
    try:
        raw = basics.read_capped(path, basics.MAX_CONFIG)
    except FileNotFoundError:
        if found is not None:
            raise Miss("no such config file") from None
        return {}, None, []
    st = os.stat(path)
    if raw is None or basics.config_file_problem(path, st):
        raise Miss("a config file the full path refuses")
    folder = os.path.join(_state_dir(), "config-cache")
    if basics.unsafe_dir_reason(os.lstat(folder)):
        raise Miss("a config cache folder the full path ignores")
    kept = basics.read_private_file(os.path.join(folder, basics.cache_file_name(path)))
    if kept is None:
        raise Miss("no config cache")
    data = basics.loads(kept)
    identity = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    if not basics.cache_holds(data, path, raw, identity):
        raise Miss("a config cache of another content")
    return data["profiles"], data["hosts"], data["unsure"]


def _plain_path(value: object) -> str:
    """``str(Path(value).expanduser())`` for paths that ``Path`` keeps as they are."""
    if not isinstance(value, str):
        raise Miss("not a path")
    if value.startswith("~/"):
        if not os.path.isabs(os.environ.get("HOME", "")):
            raise Miss("a home only pathlib may judge")
        value = os.path.expanduser(value)
    if (
        not value
        or value.startswith(("~", "./"))
        or "//" in value
        or "/./" in value
        or value.endswith(("/", "/."))
        or value == "."
        or "\0" in value
    ):
        raise Miss("a path only pathlib may judge")
    return value


def _state_dir() -> str:
    folder = basics.xdg_dir("XDG_STATE_HOME", "~/.local/state")
    if folder is None:
        raise Miss("a state folder only platformdirs knows")
    return folder


def _token(profile: _Profile) -> tuple[str, str, float]:
    """The profile's token as :meth:`TokenService.get` finds it on the cached path."""
    if profile.value("grant") != table.PASSWORD:
        raise Miss("another grant")
    client_id = profile.text("client_id")
    if not client_id or not (
        profile.is_set("client_secret") or profile.is_set("client_secret_command")
    ):
        raise Miss("a profile without its client")
    token_url = profile.text("token_url")
    if basics.plain_netloc(token_url) is None:  # one the full path's check may refuse
        raise Miss("a token URL only the full path may judge")
    account = profile.value("username")
    if account is not None and not isinstance(account, str):
        raise Miss("a username that is not a string")
    account = account or None  # an empty one counts as not set
    margin = profile.seconds("refresh_margin", limit_zero=True)
    folder = os.path.join(_state_dir(), "tokens")
    if basics.unsafe_dir_reason(os.lstat(folder)):
        raise Miss("a token folder the store does not trust")
    path = os.path.join(folder, profile.name)

    def fresh() -> tuple[str, str, float] | None:
        return _fresh(path + ".json", account, token_url, client_id, margin)

    token = fresh()
    if token is None:  # due: wait for whoever refreshes it, as the store waits, as long
        from bp_helper import waiting  # fcntl and a thread: only for a caller that waits

        timeout = waiting.lock_timeout(profile.seconds("timeout", limit_zero=False))
        token = waiting.after_the_holder(path + ".lock", timeout, fresh)
    if token is None:
        raise Miss("no refresh, or none that left a fresh token: the full path's turn")
    return token


def _fresh(
    path: str, account: str | None, token_url: str, client_id: str, margin: float
) -> tuple[str, str, float] | None:
    """The account, access token and expiry of the profile's token in ``path``; None: due."""
    kept = basics.read_private_file(path)
    if kept is None:
        raise Miss("no token file")
    data = basics.loads(kept)
    basics.check_token_file(data)
    record = basics.account_record(data, account)
    if record is None:
        raise Miss("no such account")
    holder = record.get("login") or record["username"]
    access_token = record["access_token"]
    if not (
        record["token_url"] == token_url
        and record["client_id"] == client_id
        and record.get("audience") is None
        and (account is None or holder == account)
        and (not access_token or basics.sendable(access_token))  # none (erased): due
    ):
        raise Miss("not the profile's token")
    expires_at, obtained_at = record["expires_at"], record["obtained_at"]
    fresh = basics.fresh(access_token, expires_at, obtained_at, margin, time.time())
    return (holder, access_token, expires_at) if fresh else None


def _full_path(program: str, args: list[str], seen: list[bytes]) -> int:
    """The full implementation, reading ``seen`` first and then the rest of stdin."""
    if seen and sys.stdin is not None:
        replay = io.BufferedReader(rules.Replay(b"".join(seen), sys.stdin.buffer))
        sys.stdin = io.TextIOWrapper(replay)
    if program == "git":
        from bp_helper.protocols import git

        return git.main(args)
    if program == "docker":
        from bp_helper.protocols import docker

        return docker.main(args)
    from bp_helper.commands import cli

    return cli.main(args)
