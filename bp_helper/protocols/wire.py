"""Reading a helper's standard input, and the refusal rules both protocols share.

Whoever runs a credential helper controls its input, so the input is read with limits and
judged before anything else happens. A request that breaks a rule raises
:class:`InvalidRequest`: nothing is answered, one line goes to stderr, and that line never
quotes the input (it may hold a password, or bytes meant for a terminal).
"""

from __future__ import annotations

import io
import re
import sys
from typing import BinaryIO

from bp_helper.errors import EXIT_USAGE, BpError

MAX_LINE = 65535  # bytes in one line, its newline included (git's documented limit)
MAX_INPUT = 1 << 20  # bytes in one request
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidRequest(BpError):
    """Input that no well-behaved caller sends: refused, never half-answered."""

    exit_code = EXIT_USAGE

    def __init__(self, problem: str) -> None:
        super().__init__(f"request refused: {problem}")


def standard_input() -> BinaryIO:
    """The request stream: standard input, or nothing at all when it is closed."""
    return sys.stdin.buffer if sys.stdin is not None else io.BytesIO()


def read_lines(stream: BinaryIO) -> bytes:
    """Lines up to a blank line or the end of input, within MAX_LINE and MAX_INPUT."""
    chunks: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise InvalidRequest(f"a line is longer than {MAX_LINE} bytes")
        total += len(line)
        if total > MAX_INPUT:
            raise InvalidRequest(f"more than {MAX_INPUT} bytes of input")
        if line in (b"", b"\n"):
            return b"".join(chunks)
        chunks.append(line)


def read_all(stream: BinaryIO, limit: int) -> bytes:
    """Everything up to the end of input, refused when it is over ``limit`` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidRequest(f"more than {limit} bytes of input")
    return data


def decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(f"{what} is not UTF-8") from None


def check_value(value: str, what: str) -> str:
    """``value`` if it has no NUL, CR or LF: the bytes that split or smuggle protocol lines."""
    for char, name in (("\0", "a NUL byte"), ("\r", "a carriage return"), ("\n", "a newline")):
        if char in value:
            raise InvalidRequest(f"{what} contains {name}")
    return value


def check_plain(value: str, what: str) -> str:
    """``value`` if it has no control character at all (hosts, protocols, URLs)."""
    check_value(value, what)
    if CONTROL.search(value):
        raise InvalidRequest(f"{what} contains a control character")
    return value
