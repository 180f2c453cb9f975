"""The input and answer rules of both helper protocols, shared by the full front-ends
(:mod:`.wire`, :mod:`.git`, :mod:`.docker`) and the cached path (:mod:`bp_helper.quick`).

Like :mod:`bp_helper.basics` this module imports nothing heavier than ``_json`` (the C
half of ``json``, without the ``re`` that ``json`` imports). A broken rule raises
:class:`Refused`, which the front-ends turn into :class:`~.wire.InvalidRequest` and the
cached path into "let the full path answer".
"""

import io
from _json import encode_basestring_ascii

# No `from __future__ import annotations` (one import less on the cached path): names
# imported only for type checkers are quoted.
TYPE_CHECKING = False  # type checkers treat this name as true; no `typing` import

if TYPE_CHECKING:
    from typing import Any, BinaryIO

MAX_LINE = 65535  # bytes in one line, its newline included (git's documented limit)
MAX_INPUT = 1 << 20  # bytes in one request
# Attributes of a git request with one value; everything else but the arrays is ignored.
GIT_SINGLE = frozenset({"protocol", "host", "path", "username", "password", "credential"})
_CONTROL = dict.fromkeys([*range(0x20), 0x7F])  # for str.translate: deletes them


class Refused(Exception):
    """Input that no well-behaved caller sends; ``problem`` says why, never quoting it."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def read_lines(stream: "BinaryIO", seen: list[bytes] | None = None) -> bytes:
    """Lines up to a blank line or the end of input, within MAX_LINE and MAX_INPUT.

    ``seen`` receives every line as it is read (the cached path hands them on).
    """
    chunks: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(MAX_LINE + 1)
        if seen is not None:
            seen.append(line)
        if len(line) > MAX_LINE:
            raise Refused(f"a line is longer than {MAX_LINE} bytes")
        total += len(line)
        if total > MAX_INPUT:
            raise Refused(f"more than {MAX_INPUT} bytes of input")
        if line in (b"", b"\n"):
            return b"".join(chunks)
        chunks.append(line)


def read_all(stream: "BinaryIO", limit: int, seen: list[bytes] | None = None) -> bytes:
    """Everything up to the end of input, refused when it is over ``limit`` bytes.

    ``seen`` receives what was read (the cached path hands it on)."""
    data = stream.read(limit + 1)
    if seen is not None:
        seen.append(data)
    if len(data) > limit:
        raise Refused(f"more than {limit} bytes of input")
    return data


def decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{what} is not UTF-8") from None


def check_value(value: str, what: str) -> str:
    """``value`` if it has no NUL, CR or LF: the bytes that split or smuggle protocol lines."""
    for char, name in (("\0", "a NUL byte"), ("\r", "a carriage return"), ("\n", "a newline")):
        if char in value:
            raise Refused(f"{what} contains {name}")
    return value


def check_plain(value: str, what: str) -> str:
    """``value`` if it has no control character at all (hosts, protocols, URLs)."""
    check_value(value, what)
    if not value.isprintable() and len(value.translate(_CONTROL)) != len(value):
        raise Refused(f"{what} contains a control character")
    return value


# -- git ----------------------------------------------------------------------------------------


def parse_git(data: bytes) -> dict[str, str | list[str]]:
    """The attributes of a git request: the single ones by name, ``capability[]`` and
    ``wwwauth[]`` as lists (see :func:`bp_helper.protocols.git.parse_request`)."""
    if len(data) > MAX_INPUT:
        raise Refused(f"more than {MAX_INPUT} bytes of input")
    values: dict[str, str] = {}
    capabilities: list[str] = []
    challenges: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw:
            break  # a blank line (or the end of input) ends the request
        what = f"line {number}"
        if len(raw) >= MAX_LINE:
            raise Refused(f"{what} is longer than {MAX_LINE} bytes")
        key, sep, value = check_value(decode(raw, what), what).partition("=")
        if not sep or not key:
            raise Refused(f"{what} is not key=value")
        if key == "capability[]":
            if value:
                capabilities.append(value)
            else:
                capabilities.clear()  # an empty array value resets the list
        elif key == "wwwauth[]":
            if value:
                challenges.append(value)
            else:
                challenges.clear()
        elif key in GIT_SINGLE and values.setdefault(key, value) != value:
            raise Refused(f"two different values for {key!r}")
    protocol = values.get("protocol")
    host = values.get("host")
    if not protocol:
        raise Refused("no protocol in the request")
    if not host:
        raise Refused("no host in the request")
    values["protocol"] = check_plain(protocol, "protocol").lower()
    check_plain(host, "host")
    values["username"] = check_plain(values.get("username", ""), "username")
    return {**values, "capability[]": capabilities, "wwwauth[]": challenges[:16]}


def wants_bearer(capabilities: frozenset[str], challenges: tuple[str, ...]) -> bool:
    """Can git send the token as ``Authorization: Bearer``, and will the server take it?"""
    if "authtype" not in capabilities:
        return False
    schemes = {challenge.strip().split(" ", 1)[0].lower() for challenge in challenges}
    return not schemes or "bearer" in schemes


def git_answer(account: str, access_token: str, expires_at: float, bearer: bool) -> bytes | None:
    """git's answer for a token; with ``bearer``, the authtype/credential pair first.
    ``None`` when the username or the token holds a line break."""
    lines: list[str] = []
    if bearer:
        lines += ["capability[]=authtype", "authtype=Bearer", f"credential={access_token}"]
    lines += [f"username={account}", f"password={access_token}"]
    if expires_at - expires_at == 0:  # finite: not inf, not nan
        lines.append(f"password_expiry_utc={int(expires_at)}")
    for line in lines:
        if any(char in line for char in "\0\r\n"):
            return None
    return "".join(f"{line}\n" for line in lines).encode()


# -- docker -------------------------------------------------------------------------------------


def server_text(data: bytes) -> str:
    """The server URL docker sends for ``get`` and ``erase``, checked but not yet split."""
    if len(data) > MAX_LINE:
        raise Refused(f"a server URL of more than {MAX_LINE} bytes")
    return checked_server(decode(data, "the server URL").strip(" \t\n"))


def checked_server(url: str) -> str:
    check_plain(url, "the server URL")  # no control characters, tabs included
    if not url:
        raise Refused("no server URL")
    if " " in url:
        raise Refused("the server URL contains a space")
    return url


def docker_credentials(url: str, account: str, secret: str) -> bytes:
    """``{"ServerURL", "Username", "Secret"}`` as ``json.dumps`` writes it, and a newline."""
    fields = (("ServerURL", url), ("Username", account), ("Secret", secret))
    inner = ", ".join(f'"{key}": {encode_basestring_ascii(value)}' for key, value in fields)
    return f"{{{inner}}}\n".encode()


class Replay(io.RawIOBase):
    """``prefix``, then what is left of ``rest``: the request as the cached path read it, for
    the full path when the cached path declines it."""

    def __init__(self, prefix: bytes, rest: "BinaryIO") -> None:
        self.prefix = prefix
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "Any") -> int:
        if self.prefix:
            data, self.prefix = self.prefix[: len(buffer)], self.prefix[len(buffer) :]
        else:
            data = self.rest.read1(len(buffer))  # type: ignore[attr-defined]
        buffer[: len(data)] = data
        return len(data)


def docker_netloc(url: str) -> str:
    """The ``host[:port]`` of an https server URL as docker sends it (``host[:port]`` or
    ``https://host[:port]/...``); another scheme is refused (the full path judges it)."""
    if "://" in url:
        if url[:8].lower() != "https://":
            raise Refused("another scheme")
        url = url[8:]
    for end in "/?#":
        url = url.split(end, 1)[0]
    return url
