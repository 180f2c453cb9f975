"""``bp_helper.BioProdictAuth``: requests auth that sends a profile's token only where it may go.

``requests.get(url, auth=BioProdictAuth())`` attaches ``Authorization: Bearer <token>`` when
the URL's host is bound to the profile (see :mod:`bp_helper.config.hosts`), takes the token from
:class:`~bp_helper.engine.service.TokenService` (cache, refresh or login, as
``bp-helper token``), and when a bound host answers 401 renews the token once and sends the
request again, once.
Being an ``AuthBase`` also keeps requests from putting a ``~/.netrc`` entry in its place.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest, Response
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar

from bp_helper import log
from bp_helper.config.hosts import netloc_of, origin, refusal
from bp_helper.config.profiles import select_profile
from bp_helper.config.settings import Settings
from bp_helper.engine.service import TokenService
from bp_helper.errors import BpError, HostNotBound

# error="..." in a Bearer challenge (RFC 6750 section 3)
_CHALLENGE_ERROR = re.compile(r'\berror\s*=\s*"?([A-Za-z_]+)', re.IGNORECASE)


class BioProdictAuth(AuthBase):
    """Bearer token of a bp-helper profile, for the hosts bound to that profile only.

    ``profile=None`` chooses as the command line does: ``BIOPRODICT_PROFILE`` if set, else
    the configured profile bound to the request's host (``default`` first). ``username``
    picks between profiles bound to the same host, and is the account a login is for.
    Requests to hosts no profile is bound to go out without a token; with
    ``refuse_unbound=True`` they raise :class:`~bp_helper.errors.HostNotBound` instead.
    """

    def __init__(
        self,
        profile: str | None = None,
        *,
        username: str | None = None,
        refuse_unbound: bool = False,
    ) -> None:
        self.profile = profile
        self.username = username
        self.refuse_unbound = refuse_unbound
        log.use_logging()  # our debug lines and warnings reach the program's logging too
        self._services: dict[tuple[str, str], TokenService | None] = {}

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        url = request.url or ""
        service = self.service_for(url)
        if service is None:
            if self.refuse_unbound:
                raise HostNotBound(refusal(url, self.profile))
            log.debug(f"{origin(url)} is not bound to a profile: no token sent")
            return request
        token = service.get().access_token
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", _RenewOnce(service, token, request))  # type: ignore[no-untyped-call]
        return request

    def service_for(self, url: str) -> TokenService | None:
        """The token service of the profile bound to ``url``'s host, or ``None``."""
        scheme = urlsplit(url).scheme.lower()
        try:
            netloc = netloc_of(url)
        except (BpError, ValueError):
            return None
        key = (scheme, netloc)
        if key not in self._services:
            flags = {"profile": self.profile} if self.profile else {}
            chosen = select_profile(scheme, netloc, self.username, flags)
            if chosen is not None and self.username:
                chosen = Settings({**flags, "profile": chosen.profile, "username": self.username})
            self._services[key] = TokenService(chosen) if chosen is not None else None
        return self._services[key]


class _RenewOnce:
    """Response hook: on a 401 for the token we sent, renew it and resend the request once."""

    def __init__(self, service: TokenService, sent_token: str, request: PreparedRequest) -> None:
        self.service = service
        self.sent_token = sent_token
        self.body_position: int | None = None
        tell = getattr(request.body, "tell", None)
        if callable(tell):
            try:
                self.body_position = int(tell())
            except OSError:
                self.body_position = None
        self.used = False

    def __call__(self, response: Response, **kwargs: Any) -> Response:
        if self.used or response.status_code != 401 or not token_rejected(response):
            return response
        request = response.request
        # Only a 401 for the token itself: requests also runs this hook for the answers of
        # redirects, and their requests go elsewhere, without the token. Renewing there
        # would send a new token to whoever answered.
        if request.headers.get("Authorization") != f"Bearer {self.sent_token}":
            log.debug(f"{origin(request.url or '')} answered 401 to a request without the token")
            return response
        self.used = True
        if not rewind(request, self.body_position):
            log.debug("the 401'd request body cannot be sent again: not retrying")
            return response
        renewed = self.service.renew(self.sent_token).access_token
        if renewed == self.sent_token:
            return response  # BIOPRODICT_TOKEN, or nothing newer: the 401 stands
        log.debug("the server rejected the access token: renewed it, sending the request again")
        response.content  # noqa: B018 -- read the body so the connection can be reused
        response.close()
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {renewed}"
        cookies = getattr(retry, "_cookies", None)
        if cookies is not None:
            extract_cookies_to_jar(cookies, request, response.raw)  # type: ignore[no-untyped-call]
            retry.prepare_cookies(cookies)
        connection = getattr(response, "connection", None)
        if connection is None:
            return response
        second: Response = connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        return second


def token_rejected(response: Response) -> bool:
    """Does this 401 say the token is bad (``invalid_token``, or no reason given)?"""
    challenge = response.headers.get("WWW-Authenticate", "")
    match = _CHALLENGE_ERROR.search(challenge)
    return match is None or match.group(1).lower() == "invalid_token"


def rewind(request: PreparedRequest, position: int | None) -> bool:
    """Make the request's body readable again; ``False`` when it cannot be."""
    body = request.body
    if body is None or isinstance(body, bytes | str):
        return True
    seek = getattr(body, "seek", None)
    if position is None or not callable(seek):
        return False
    try:
        seek(position)
    except OSError:
        return False
    return True
