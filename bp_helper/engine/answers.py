"""Reading the token endpoint's answers, and keeping the HTTP libraries' logs quiet meanwhile.

Helpers of :mod:`bp_helper.engine.client`: JSON bodies, dates, descriptions fit for a message.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from bp_helper import log


class _DuringTokenRequests(logging.Filter):
    """Drops what requests-oauthlib and oauthlib log while this thread runs a token request.

    At DEBUG level requests-oauthlib logs the request (the password, the client secret in
    the Basic header and the body, the refresh token) and the answer (the tokens); a program
    that uses :class:`~bp_helper.BioProdictAuth` may well log everything at DEBUG. Other uses
    of those libraries in the same program, and other threads, log as before.
    """

    active = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.active, "on", False)


_FILTER = _DuringTokenRequests()


@contextmanager
def unlogged() -> Iterator[None]:
    # Logger filters do not apply to records of child loggers: filter each of them.
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in ("requests_oauthlib", "oauthlib"):
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
    _FILTER.active.on = True
    try:
        yield
    finally:
        _FILTER.active.on = False


@dataclass(frozen=True)
class Probe:
    """What ``doctor`` learns from one request to the token URL."""

    status: int
    server_date: float | None  # the Date header, as epoch seconds
    local_time: float  # the local clock halfway through the request
    client_rejected: bool  # 401 with a Basic challenge: the client id or secret is wrong
    oauth_answer: bool  # a JSON OAuth error, as a token endpoint sends


def http_date(value: str | None) -> float | None:
    if not value:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def describe_body(response: requests.Response) -> str:
    ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if "html" in ctype or response.content.lstrip()[:1] == b"<":
        return "an HTML page"
    if not response.content:
        return "an empty body"
    return f"a non-JSON body ({ctype or 'no content type'})"


def seconds_or_none(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def display_text(value: Any, limit: int = 200) -> str | None:
    """Server text fit for a terminal and a protocol line (a name, a full name, a host).

    Control characters (line breaks, escape sequences) and other unprintable characters
    become spaces, the result is one line of at most ``limit`` characters; ``None`` when
    nothing printable is left.
    """
    if not isinstance(value, str):
        return None
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return (text if len(text) <= limit else text[: limit - 1] + "…") or None


def reason_of(exc: BaseException) -> str:
    """A short, secret-free reason from a requests/urllib3 exception chain."""
    inner: BaseException = exc
    while inner.args and isinstance(inner.args[0], BaseException):
        inner = inner.args[0]
    text = str(getattr(inner, "reason", None) or inner)
    for marker in ("Caused by ", "] "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text).strip("'\" ")
    if text.startswith("(") != text.endswith(")"):
        text = text.strip("()")
    return log.scrub(text, limit=120) or type(inner).__name__
