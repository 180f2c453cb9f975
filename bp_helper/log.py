"""Stderr output: warnings, ``--debug`` traces and error lines, all redacted.

Not built on the ``logging`` module: every line must pass through :func:`redact`, and the
executables print their own one-line formats whatever logging a host program configured.
Programs that use bp-helper as a library get its debug lines and warnings in their own
logging as well, from the logger ``bp_helper`` (redacted the same way), once a library entry
point (such as :class:`~bp_helper.BioProdictAuth`) has called
:func:`bp_helper.library.logger.use_logging`, which hands this module that logger; the
executables never do, and never import ``logging`` for it.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from logging import Logger

_secrets: set[str] = set()
_debug = False
_logger: Logger | None = None  # see to_logging
_warned: set[str] = set()

# A JSON Web Token: what Bio-Prodict's access and refresh tokens are.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# Server text may echo other token-like strings ("Invalid refresh token: 3f2a...").
_OPAQUE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[A-Za-z0-9+/_~=-]{24,}"
)
REDACTED = "[redacted]"
# The levels of the ``logging`` module, for the logger given to to_logging.
DEBUG = 10
WARNING = 30
# Characters of untrusted text (a server's, a keyring's, a command's) one message may hold.
TEXT_LIMIT = 200


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")


def add_secret(value: str | None) -> None:
    """Remember a secret so that it is masked wherever it might be printed.

    Its URL- and form-encoded forms too, should a server echo a request back.
    """
    if value and len(value) >= 3:
        _secrets.add(value)
        # Tokens never need this; a value that is not UTF-8 text is
        # never sent (see bp_helper.engine.client.encodable).
        if not _UNRESERVED.fullmatch(value) and value.encode(errors="replace") == value.encode(
            errors="ignore"
        ):
            _secrets.update((quote(value, safe=""), quote_plus(value), quote(value)))


def redact(text: str) -> str:
    """Mask every known secret and every token-like string in ``text``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _JWT.sub(REDACTED, text)


def one_line(text: str, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text fit for a terminal and a protocol line: the one sanitiser.

    Every character that is not printable (line breaks, carriage returns, escape sequences,
    bidirectional controls) becomes a space, runs of white space one space, and the result is
    at most ``limit`` characters. Names (a user's, a host) need no more; text that may hold a
    secret goes through :func:`scrub`, which calls this.
    """
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scrub(text: str, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text that may echo a secret (a server's error, an exception) for a message:
    known secrets and token-like strings redacted, then :func:`one_line`."""
    return one_line(_OPAQUE.sub(REDACTED, redact(text)), limit)


def enable_debug(on: bool = True) -> None:
    global _debug
    _debug = on


def debug_enabled() -> bool:
    return _debug


def debug(message: str) -> None:
    if _debug:
        _emit(f"bp-helper: debug: {message}")
    _log(DEBUG, message)


def warn(message: str) -> None:
    """A warning, said once per process however often it recurs."""
    if message not in _warned:
        _warned.add(message)
        _emit(f"bp-helper: warning: {message}")
        _log(WARNING, message)


def to_logging(logger: Logger) -> None:
    """From now on, debug lines and warnings go to ``logger`` too, redacted (see
    :func:`bp_helper.library.logger.use_logging`)."""
    global _logger
    _logger = logger


def _log(level: int, message: str) -> None:
    """Hand ``message``, redacted, to the logger given to :func:`to_logging`, if any."""
    logger = _logger
    if logger is not None and logger.isEnabledFor(level):
        logger.log(level, redact(message))


def error(message: str) -> None:
    _emit(f"bp-helper: {message}")


def _emit(line: str) -> None:
    try:
        sys.stderr.write(redact(line) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
