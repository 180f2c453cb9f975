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
from email.utils import parsedate_to_datetime
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
    client_rejected: bool  # the client id or secret is wrong (see Refusal.rejects_client)
    oauth_answer: bool  # a JSON OAuth error, as a token endpoint sends
    said: str = ""  # the server's error and description, scrubbed


def http_date(value: str | None) -> float | None:
    if not value:
        return None
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
    return f"a non-JSON body ({log.one_line(ctype, 60) or 'no content type'})"


def seconds_or_none(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def display_text(value: Any, limit: int = log.TEXT_LIMIT) -> str | None:
    """A name from the server (a user's, a full name, a host) fit for a terminal and a
    protocol line (see :func:`bp_helper.log.one_line`); ``None`` when nothing is left."""
    if not isinstance(value, str):
        return None
    return log.one_line(value, limit) or None


# An OAuth error that names the client: what a rejected client id or secret gets.
CLIENT_ERRORS = ("invalid_client", "unauthorized_client")
# Errors about the grant itself (the user, the refresh token), not the client.
GRANT_ERRORS = ("invalid_grant", "invalid_token")


class Refusal:
    """A token endpoint's refusal as messages may quote it: server text, scrubbed and bounded."""

    def __init__(self, response: requests.Response, body: dict[str, Any] | None) -> None:
        self.status = response.status_code
        self.challenge = response.headers.get("WWW-Authenticate", "")
        self.oauth = body is not None
        self.error = log.scrub(str((body or {}).get("error", "")), 60)
        self.description = log.scrub(str((body or {}).get("error_description", "")))
        # "error: description", as messages quote it
        said = f"{self.error}: {self.description}" if self.description else self.error
        self.said = said or f"HTTP {self.status}"

    def rejects_client(self, grant: str) -> bool:
        """Does this refusal say the client id or secret is wrong? One rule for every grant
        and for ``doctor``'s probe:

        - ``invalid_client`` or ``unauthorized_client``, unless it is about the grant type
          (Spring's "Unauthorized grant type: refresh_token" for a client without refresh);
        - a 401 that is not an OAuth JSON error (Spring's Basic challenge page), that answers
          a password grant, or that carries a Basic challenge;
        - a 401 with any other challenge (django-oauth-toolkit's ``Bearer
          error="invalid_client"``), unless its error is about the user or the refresh token.
        """
        if self.error in CLIENT_ERRORS:
            return "grant type" not in self.description.lower()
        if self.status != 401:
            return False
        if not self.oauth or grant == "password" or "basic" in self.challenge.lower():
            return True
        return bool(self.challenge.strip()) and self.error not in GRANT_ERRORS


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
