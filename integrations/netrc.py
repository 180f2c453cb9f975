"""``bp-helper netrc``: ``machine HOST login USER password TOKEN`` for the profile's hosts.

netrc holds a login and a password, which curl, requests and others send as Basic auth:
this is for tools and gateways that take the access token as a password. ``curl-config``
is the Bearer path. With ``--output FILE`` the entries are merged into FILE: an entry for
one of the hosts is replaced in place (later duplicates removed), every other entry, macro
and comment stays as it was; new entries go before a ``default`` entry, if there is one.
Values are quoted only when needed, the way curl >= 7.84 and Python's ``netrc`` both read.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass, field

from bp_helper import log
from bp_helper.config.settings import Settings
from bp_helper.errors import BpError
from bp_helper.route import profile_route
from bp_helper.tokens import StoredToken

from .output import deliver, output_path

MAX_NETRC = 1 << 20
_SPECIAL = frozenset(' \t"\\#')


def quote(value: str) -> str:
    """``value`` as one netrc token."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise BpError("a netrc value cannot contain control characters")
    if value and not _SPECIAL.intersection(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def machine_name(host: str) -> str:
    """netrc matches host names only: ``host[:port]`` -> ``host`` (IPv6 without brackets)."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0]


def entries(token: StoredToken, settings: Settings) -> dict[str, str]:
    """machine -> its entry line, for each bound host."""
    lines: dict[str, str] = {}
    for host in settings.value("hosts"):
        machine = machine_name(host)
        lines.setdefault(
            machine,
            f"machine {quote(machine)} login {quote(token.username)} "
            f"password {quote(token.access_token)}",
        )
    return lines


@dataclass
class _Entry:
    """A ``machine`` or ``default`` entry: its name and where it is in the text."""

    keyword: str
    name: str
    start: int
    end: int
    comments: list[tuple[int, int]] = field(default_factory=list)  # spans inside the entry


def _words(text: str) -> Iterator[tuple[str, int, int, bool]]:
    """(value, start, end, is_comment) for each netrc word; macro bodies are skipped."""
    pos, size = 0, len(text)
    expect_macro = False
    while pos < size:
        char = text[pos]
        if char in " \t\r\n":
            pos += 1
            continue
        start = pos
        if char == "#":
            end = text.find("\n", pos)
            pos = size if end < 0 else end
            yield text[start:pos], start, pos, True
            continue
        value: list[str] = []
        quoted = char == '"'
        pos += quoted
        while pos < size:
            char = text[pos]
            if quoted and char == '"':
                pos += 1
                break
            if not quoted and char in " \t\r\n":
                break
            if char == "\\" and pos + 1 < size:
                pos += 1
                char = text[pos]
            value.append(char)
            pos += 1
        else:
            if quoted:
                raise ValueError("a quoted value is not closed")
        word = "".join(value)
        yield word, start, pos, False
        if expect_macro:  # `macdef NAME`: the body runs to the next empty line
            end = text.find("\n\n", pos)
            pos = size if end < 0 else end + 2
        expect_macro = not quoted and word == "macdef"


def parse_entries(text: str) -> list[_Entry]:
    """The ``machine``/``default`` entries of a netrc text, with their spans."""
    found: list[_Entry] = []
    current: _Entry | None = None
    words = _words(text)
    for word, start, end, is_comment in words:
        if is_comment:
            if current is not None:
                current.comments.append((start, end))
            continue
        if word in ("machine", "default", "macdef"):
            current = None
            if word == "macdef":
                next(words, None)  # its name (the body is skipped by _words)
                continue
            name = "" if word == "default" else next(words, ("", 0, end, False))[0]
            current = _Entry(word, name, start, end)
            found.append(current)
        elif current is not None:
            current.end = end
        else:
            raise ValueError(f"unexpected {word!r} outside a machine entry")
    for entry in found:  # comments after the last value of an entry are not part of it
        entry.comments = [(start, end) for start, end in entry.comments if end <= entry.end]
    return found


def merge(text: str, new: dict[str, str]) -> tuple[str, int]:
    """``text`` with the entries of ``new`` in place; also how many entries were replaced."""
    try:
        found = parse_entries(text)
    except ValueError as exc:
        raise BpError(f"cannot merge: the file is not in netrc format ({exc})") from None
    edits: list[tuple[int, int, str]] = []
    done: set[str] = set()
    replaced = 0
    for entry in found:
        if entry.keyword != "machine" or entry.name not in new:
            continue
        kept = "".join(f"{text[start:end]}\n" for start, end in entry.comments)
        edits.append((entry.start, entry.end, "" if entry.name in done else kept + new[entry.name]))
        done.add(entry.name)
        replaced += 1
    missing = "".join(f"{line}\n" for name, line in new.items() if name not in done)
    default = next((e for e in found if e.keyword == "default"), None)
    if missing and default is not None:
        edits.append((default.start, default.start, missing))
    elif missing:
        separator = "" if not text or text.endswith("\n") else "\n"
        edits.append((len(text), len(text), separator + missing))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text, replaced


def read_existing(path_text: str) -> str:
    path = output_path(path_text)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_NETRC + 1)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise BpError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_NETRC:
        raise BpError(f"{path} is larger than 1 MiB: not a netrc file")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise BpError(f"{path} is not UTF-8 text: not a netrc file") from None


def cmd_netrc(args: argparse.Namespace, settings: Settings) -> int:
    token = profile_route(settings).service().get()
    new = entries(token, settings)
    if args.output is None or args.output == "-":
        deliver("".join(f"{line}\n" for line in new.values()), None)
        return 0
    merged, replaced = merge(read_existing(args.output), new)
    deliver(merged, args.output)
    log.debug(f"netrc: {len(new)} entries for profile {settings.profile!r}, {replaced} replaced")
    return 0
