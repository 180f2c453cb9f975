"""``bp_helper.BioProdictAuth``: requests auth that sends a profile's token only where it may go.

``requests.get(url, auth=BioProdictAuth())`` attaches ``Authorization: Bearer <token>`` when
the URL's host is bound to the profile (see :mod:`bp_helper.config.hosts`), takes the token from
:class:`~bp_helper.engine.service.TokenService` (cache, refresh or login, as
``bp-helper token``), and when a bound host answers 401 renews the token once and sends the
request again, once.
Being an ``AuthBase`` also keeps requests from putting a ``~/.netrc`` entry in its place.
"""

from __future__ import annotations

from typing import Any

from requests import PreparedRequest, Response
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar

from bp_helper import log
from bp_helper.engine.service import TokenService
from bp_helper.library.bearer import BoundTokens, ProfileAuth


class BioProdictAuth(ProfileAuth, AuthBase):
    """Bearer token of a bp-helper profile, for the hosts bound to that profile only.

    ``profile=None`` chooses as the command line does: ``BIOPRODICT_PROFILE`` if set, else
    the configured profile bound to the request's host (``default`` first). ``username``
    picks between profiles bound to the same host, and is the account a login is for.
    Requests to hosts no profile is bound to go out without a token; with
    ``refuse_unbound=True`` they raise :class:`~bp_helper.errors.HostNotBound` instead.
    """

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        found = self._bound.token_for(request.url or "")
        if found is None:
            return request
        service, token = found
        request.headers["Authorization"] = f"Bearer {token}"
        renew = _RenewOnce(self._bound, service, token, request)
        request.register_hook("response", renew)  # type: ignore[no-untyped-call]
        return request


class _RenewOnce:
    """Response hook: on a 401 for the token we sent, renew it and resend the request once."""

    def __init__(
        self, bound: BoundTokens, service: TokenService, sent_token: str, request: PreparedRequest
    ) -> None:
        self.bound = bound
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
        if self.used or response.status_code != 401:
            return response
        # requests also runs this hook for the answers of redirects: the request that got
        # the 401 is response.request, which renewed_token checks carried our token.
        request = response.request
        self.used = True
        if not rewind(request, self.body_position):
            log.debug("the 401'd request body cannot be sent again: not retrying")
            return response
        renewed = self.bound.renewed(
            self.service,
            self.sent_token,
            request.headers.get("Authorization"),
            response.headers.get("WWW-Authenticate", ""),
        )
        if renewed is None:
            return response
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
