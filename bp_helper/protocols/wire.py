"""Reading a helper's standard input, and the refusal rules both protocols share.

Whoever runs a credential helper controls its input, so the input is read with limits and
judged before anything else happens. A request that breaks a rule raises
:class:`InvalidRequest`: nothing is answered, one line goes to stderr, and that line never
quotes the input (it may hold a password, or bytes meant for a terminal).
"""

from __future__ import annotations

import io
import sys
from typing import BinaryIO

from bp_helper.errors import EXIT_USAGE, BpError
from bp_helper.protocols import rules
from bp_helper.protocols.rules import MAX_INPUT, MAX_LINE, Refused

__all__ = ["MAX_INPUT", "MAX_LINE", "InvalidRequest", "Refused"]


class InvalidRequest(BpError):
    """Input that no well-behaved caller sends: refused, never half-answered."""

    exit_code = EXIT_USAGE

    def __init__(self, problem: str) -> None:
        super().__init__(f"request refused: {problem}")


def standard_input() -> BinaryIO:
    """The request stream: standard input, or nothing at all when it is closed."""
    return sys.stdin.buffer if sys.stdin is not None else io.BytesIO()


# The rules themselves live in bp_helper.protocols.rules, shared with the cached path;
# here a rule broken is an InvalidRequest.


def read_lines(stream: BinaryIO) -> bytes:
    """Lines up to a blank line or the end of input, within MAX_LINE and MAX_INPUT."""
    try:
        return rules.read_lines(stream)
    except Refused as exc:
        raise InvalidRequest(exc.problem) from None


def read_all(stream: BinaryIO, limit: int) -> bytes:
    """Everything up to the end of input, refused when it is over ``limit`` bytes."""
    try:
        return rules.read_all(stream, limit)
    except Refused as exc:
        raise InvalidRequest(exc.problem) from None


def decode(data: bytes, what: str) -> str:
    try:
        return rules.decode(data, what)
    except Refused as exc:
        raise InvalidRequest(exc.problem) from None


def check_value(value: str, what: str) -> str:
    """``value`` if it has no NUL, CR or LF: the bytes that split or smuggle protocol lines."""
    try:
        return rules.check_value(value, what)
    except Refused as exc:
        raise InvalidRequest(exc.problem) from None


def check_plain(value: str, what: str) -> str:
    """``value`` if it has no control character at all (hosts, protocols, URLs)."""
    try:
        return rules.check_plain(value, what)
    except Refused as exc:
        raise InvalidRequest(exc.problem) from None
