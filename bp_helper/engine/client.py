"""The token client: password and refresh grants against the Bio-Prodict token endpoint.

Built on ``requests_oauthlib.OAuth2Session`` with ``oauthlib``'s ``LegacyApplicationClient``,
designed around their known pitfalls: the HTTP status is checked here (``fetch_token`` does
not), before oauthlib parses anything, so every answer becomes one typed
:class:`~bp_helper.errors.TokenRequestError`; refreshes are explicit (no auto-refresh);
``expires_at`` is computed once, on receipt. Only this module imports requests and oauthlib.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

import requests
from oauthlib.oauth2 import Client, LegacyApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from bp_helper import log
from bp_helper.config.hosts import origin
from bp_helper.engine.answers import (
    Probe,
    describe_body,
    display_text,
    http_date,
    json_object,
    seconds_or_none,
    str_or_none,
    unlogged,
)
from bp_helper.engine.transport import (
    bounded_session,
    deadline,
    token_session,
    transport_error,
)
from bp_helper.errors import (
    ClientRejected,
    ConfigError,
    CredentialsRejected,
    RefreshRejected,
    TokenRequestError,
)
from bp_helper.tokens import StoredToken
from bp_helper.version import __version__

RETRY_STATUSES = frozenset({500, 502, 503, 504})
BACKOFF = (0.5, 1.5)  # seconds before the 2nd and 3rd attempt


def pause(seconds: float) -> None:
    """Wait before the next attempt: the one seam through which tests drive the back-off."""
    time.sleep(seconds)


MAX_EXPIRES_IN = 366 * 86400
TWOFACTOR_WORDS = ("two-factor", "two factor", "twofactor", "2fa", "otp", "verification code")


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str  # may be empty: some clients have none


class TokenClient:
    """Talks to one token URL with one client id; raises only ``TokenRequestError``s."""

    def __init__(
        self,
        token_url: str,
        client: ClientCredentials,
        *,
        timeout: float,
        verify: str | bool = True,
    ) -> None:
        self.token_url = token_url
        self.client = client
        self.timeout = timeout
        self.verify = verify
        self.host = urlsplit(token_url).netloc
        log.add_secret(client.client_secret)
        if client.client_secret:  # the Basic header, should a server echo it back
            basic = f"{client.client_id}:{client.client_secret}".encode(errors="replace")
            log.add_secret(base64.b64encode(basic).decode())

    @property
    def deadline(self) -> float:
        return deadline(self.timeout)

    # -- the two grants -----------------------------------------------------------------

    def password_grant(self, username: str, password: str, twofactor: str | None) -> StoredToken:
        log.add_secret(password)
        log.add_secret(twofactor)
        encodable(("username", username), ("password", password), ("two-factor code", twofactor))
        extra = {"twofactor": twofactor} if twofactor else {}
        fields = ["grant_type", "username", "password", "client_id", "client_secret", *extra]
        log.debug(
            f"POST {self.token_url} grant_type=password username={username!r} "
            f"fields={','.join(fields)} (password, client_secret and twofactor redacted), "
            f"Basic client {self.client.client_id!r}"
        )

        def fetch(session: OAuth2Session) -> dict[str, Any]:
            token: dict[str, Any] = session.fetch_token(
                self.token_url,
                username=username,
                password=password,
                auth=self._basic(),
                include_client_id=True,
                client_secret=self.client.client_secret,
                timeout=self.timeout,
                verify=self.verify,
                **extra,
            )
            return token

        answer = self._call(fetch, "access_token_response", grant="password")
        return self._stored(answer, username=username, twofactor=bool(twofactor))

    def refresh_grant(self, previous: StoredToken) -> StoredToken:
        assert previous.refresh_token
        log.add_secret(previous.refresh_token)
        log.debug(
            f"POST {self.token_url} grant_type=refresh_token fields=grant_type,refresh_token "
            f"(refresh_token redacted), Basic client {self.client.client_id!r}"
        )

        def fetch(session: OAuth2Session) -> dict[str, Any]:
            token: dict[str, Any] = session.refresh_token(
                self.token_url,
                refresh_token=previous.refresh_token,
                auth=self._basic(),
                timeout=self.timeout,
                verify=self.verify,
            )
            return token

        answer = self._call(fetch, "refresh_token_response", grant="refresh_token")
        # Always keep the refresh token the server sends back; keep the old one only
        # when the answer carries none.
        return self._stored(
            answer,
            username=previous.username,
            twofactor=previous.twofactor,
            previous=previous,
        )

    # -- plumbing -----------------------------------------------------------------------

    def _basic(self) -> HTTPBasicAuth:
        return HTTPBasicAuth(self.client.client_id, self.client.client_secret)

    def _oauth_client(self) -> Client:
        """oauthlib's client for this grant family (the machine grant's subclass picks another)."""
        return LegacyApplicationClient(client_id=self.client.client_id)

    def _session(self, hook: str, grant: str) -> OAuth2Session:
        encodable(
            ("client id", self.client.client_id), ("client secret", self.client.client_secret)
        )
        session = token_session(self._oauth_client(), self.deadline)
        session.headers["User-Agent"] = f"bp-helper/{__version__}"
        session.register_compliance_hook(hook, lambda r: self._check_response(r, grant))
        return session

    def _call(
        self, fetch: Callable[[OAuth2Session], dict[str, Any]], hook: str, grant: str
    ) -> dict[str, Any]:
        """Run one grant with bounded retries for 5xx answers and connection failures."""
        attempts = len(BACKOFF) + 1
        for attempt in range(attempts):
            started = time.monotonic()
            try:
                with unlogged(), self._session(hook, grant) as session:
                    answer = fetch(session)
                log.debug(f"token endpoint answered in {time.monotonic() - started:.2f} s")
                return answer
            except _Retryable as exc:
                if attempt + 1 == attempts:
                    raise exc.error from None
                log.debug(f"{exc.error.message}; retrying in {BACKOFF[attempt]} s")
                pause(BACKOFF[attempt])
            except requests.exceptions.ConnectionError as exc:
                error = transport_error(exc, self.host, self.timeout)
                final = (requests.exceptions.SSLError, requests.exceptions.Timeout)
                if attempt + 1 == attempts or isinstance(exc, final):
                    raise error from None
                log.debug(f"{error.message}; retrying in {BACKOFF[attempt]} s")
                pause(BACKOFF[attempt])
            except requests.exceptions.RequestException as exc:
                raise transport_error(exc, self.host, self.timeout) from None
            except TokenRequestError:
                raise
            except Exception as exc:  # oauthlib's parser: a malformed success answer
                raise TokenRequestError(
                    f"the token server {self.host} sent an answer bp-helper cannot use "
                    f"({type(exc).__name__}); try again later"
                ) from None
        raise AssertionError("unreachable")

    def probe(self) -> Probe:
        """One harmless request for ``bp-helper doctor``: a refresh grant with a made-up token.

        The server answers it with an OAuth error either way; a 401 with a Basic challenge
        means it refused the client. No retries; ``TokenRequestError`` if nothing answers.
        """
        log.debug(f"POST {self.token_url} grant_type=refresh_token (doctor's probe)")
        sent = time.time()
        try:
            response = bounded_session(self.deadline).post(  # sends the client secret
                self.token_url,
                data={"grant_type": "refresh_token", "refresh_token": "bp-helper-doctor-probe"},
                auth=self._basic(),
                headers={"User-Agent": f"bp-helper/{__version__}", "Accept": "application/json"},
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            raise transport_error(exc, self.host, self.timeout) from None
        received = time.time()
        basic = "basic" in response.headers.get("WWW-Authenticate", "").lower()
        body = json_object(response)
        return Probe(
            status=response.status_code,
            server_date=http_date(response.headers.get("Date")),
            local_time=(sent + received) / 2,
            client_rejected=response.status_code == 401 and (basic or body is None),
            oauth_answer=body is not None and "error" in body,
        )

    def _check_response(self, response: requests.Response, grant: str) -> requests.Response:
        """Turn every answer that is not a usable token into a typed error."""
        status = response.status_code
        log.debug(f"token endpoint: HTTP {status} {response.headers.get('Content-Type', '')}")
        if 300 <= status < 400:
            target = urljoin(self.token_url, response.headers.get("Location", ""))
            raise TokenRequestError(
                f"the token URL redirects to {display_text(origin(target), 100)}; bp-helper "
                "sends no credentials there: set token_url to it if that is right"
            )
        body = json_object(response)
        if status == 200:
            if body is None:
                kind = describe_body(response)
                raise TokenRequestError(
                    f"the token server {self.host} answered HTTP 200 with {kind} instead of "
                    "a token; check token_url"
                )
            if not isinstance(body.get("access_token"), str) or not body["access_token"]:
                raise TokenRequestError(
                    f"the token server {self.host} answered without an access_token; "
                    "try again later"
                )
            log.add_secret(body["access_token"])
            token = body["access_token"]
            if not (token.isascii() and token.isprintable() and " " not in token):
                # what bp_helper.engine.store.sendable hands out; refused before it is stored
                raise TokenRequestError(
                    f"the token server {self.host} sent an access token with spaces or "
                    "control characters, which bp-helper cannot hand out; check token_url"
                )
            if isinstance(body.get("refresh_token"), str):
                log.add_secret(body["refresh_token"])
            kind = body.get("token_type", "bearer")
            if not isinstance(kind, str) or kind.lower() != "bearer":
                raise TokenRequestError(
                    f"the token server {self.host} issued a token of type "
                    f"{display_text(str(kind), 40)!r}, not bearer, which bp-helper cannot use; "
                    "check token_url"
                )
            return response
        if status in RETRY_STATUSES:
            raise _Retryable(
                TokenRequestError(
                    f"the token server {self.host} is unavailable (HTTP {status}"
                    f"{', ' + describe_body(response) if body is None else ''}); try again later"
                )
            )
        self._refusal(response, body, grant)

    def _refusal(
        self, response: requests.Response, body: dict[str, Any] | None, grant: str
    ) -> NoReturn:
        status = response.status_code
        error = log.scrub(str((body or {}).get("error", "")), 60)
        description = log.scrub(str((body or {}).get("error_description", "")))
        said = f"{error}: {description}" if description else error or f"HTTP {status}"
        basic = "basic" in response.headers.get("WWW-Authenticate", "").lower()
        if (status == 401 and (basic or grant == "password" or body is None)) or (
            error in ("invalid_client", "unauthorized_client") and "grant type" not in description
        ):
            raise ClientRejected(
                f"the token server rejected client id {self.client.client_id!r} (HTTP {status}"
                f"{', ' + said if body else ''}); check the client id and client secret"
            )
        if grant == "refresh_token":
            if error in ("invalid_grant", "invalid_token", "invalid_client", "invalid_request"):
                raise RefreshRejected(f"the token server refused the refresh token ({said})")
        elif error == "invalid_grant":
            maybe_2fa = any(word in description.lower() for word in TWOFACTOR_WORDS)
            raise CredentialsRejected(
                f"the token server refused the login ({said})", maybe_twofactor=maybe_2fa
            )
        raise TokenRequestError(
            f"the token server {self.host} refused the request (HTTP {status}, {said})"
        )

    def _stored(
        self,
        answer: dict[str, Any],
        *,
        username: str,
        twofactor: bool,
        previous: StoredToken | None = None,
    ) -> StoredToken:
        now = time.time()
        expires_in = seconds_or_none(answer.get("expires_in"))
        if expires_in is None:
            expires_in = 3600.0
            log.warn("the token server sent no usable expires_in; assuming one hour")
        elif not 0 < expires_in <= MAX_EXPIRES_IN:
            log.warn(f"the token server sent expires_in={expires_in:g}; treating it as bounded")
            expires_in = min(max(expires_in, 0.0), MAX_EXPIRES_IN)
        refresh = answer.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            refresh = previous.refresh_token if previous else None
        userid = answer.get("userid", previous.userid if previous else None)
        return StoredToken(
            access_token=str(answer["access_token"]),
            expires_at=now + expires_in,
            obtained_at=now,
            username=display_text(answer.get("username")) or username,
            token_url=self.token_url,
            client_id=self.client.client_id,
            refresh_token=refresh,
            token_type=str(answer.get("token_type") or "bearer"),
            fullname=display_text(answer.get("fullname"))
            or (previous.fullname if previous else None),
            userid=userid if isinstance(userid, int | str) else None,
            scope=str_or_none(answer.get("scope")),
            twofactor=twofactor,
        )


def encodable(*values: tuple[str, str | None]) -> None:
    """Refuse, before anything is sent, a value that cannot be sent as UTF-8 text.

    Non-UTF-8 bytes in an environment variable, or a lone surrogate from a JSON string,
    are a local problem: nothing reaches the server, and no outage is recorded.
    """
    for what, value in values:
        try:
            (value or "").encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(
                f"the {what} is not valid text (it holds bytes that are not UTF-8); "
                "check where it comes from (`bp-helper status` says)"
            ) from None


class _Retryable(Exception):
    def __init__(self, error: TokenRequestError) -> None:
        super().__init__(error.message)
        self.error = error
