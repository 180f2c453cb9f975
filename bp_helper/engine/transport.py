"""The HTTP exchange of a token request: no redirects, no debug output, bounded in time and size.

A token request carries the password, the client secret or the refresh token, so it gets its
own session (:func:`token_session`), whatever the program around it does with requests:

- redirects are never followed: a 3xx is handed back as it is (the client turns it into an
  error that names the ``Location``), so nothing is re-sent to the host it names;
- the connections have ``debuglevel`` 0 even when a program set
  ``http.client.HTTPConnection.debuglevel = 1`` (the "log every request" recipe prints the
  request body and the Basic header);
- the whole exchange (connect, headers, body) has one deadline: a watchdog shuts the socket
  when it passes, so a server that drips bytes or headers cannot hold a caller (and the
  profile's lock) for longer;
- the answer is read once, and at most :data:`MAX_ANSWER` bytes of it (a token answer is
  under 16 KiB).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH  # requests' own (certifi's)
from requests_oauthlib import OAuth2Session
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

from bp_helper.config.tls import Trust
from bp_helper.engine.answers import reason_of
from bp_helper.errors import TokenRequestError

MAX_ANSWER = 1 << 20  # bytes
CHUNK = 16384


class DeadlinePassed(requests.exceptions.Timeout):
    """The token server did not finish its answer before the request's deadline."""


class AnswerTooLarge(requests.exceptions.RequestException):
    """The token server's answer is larger than :data:`MAX_ANSWER`."""


class _Exchange(threading.local):
    """The sockets of the token request this thread is making, for the watchdog."""

    sockets: list[socket.socket] | None = None


_current = _Exchange()


def _watch(sock: socket.socket | None) -> None:
    if sock is not None and _current.sockets is not None:
        _current.sockets.append(sock)


class _QuietHTTPConnection(HTTPConnection):
    debuglevel = 0  # shadows http.client.HTTPConnection.debuglevel = 1 of the program

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)


class _QuietHTTPSConnection(_QuietHTTPConnection, HTTPSConnection):
    """The same watch and quiet, over TLS (HTTPSConnection's connect, then the watch)."""


class _QuietHTTPPool(HTTPConnectionPool):
    ConnectionCls = _QuietHTTPConnection


class _QuietHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _QuietHTTPSConnection


_POOLS = {"http": _QuietHTTPPool, "https": _QuietHTTPSPool}


class BoundedAdapter(HTTPAdapter):
    """Sends one request, reads its whole answer by ``deadline`` seconds, at most ``limit``."""

    def __init__(self, deadline: float, limit: int = MAX_ANSWER) -> None:
        self.deadline = deadline
        self.limit = limit
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        sockets: list[socket.socket] = []
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            for sock in sockets:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

        watchdog = threading.Timer(self.deadline, expire)
        watchdog.daemon = True
        _current.sockets = sockets
        watchdog.start()
        try:
            response = super().send(request, stream=True, **kwargs)
            response._content = self._body(response)
            response._content_consumed = True  # type: ignore[attr-defined]
            if expired.is_set():  # the shut socket may have looked like the end of the body
                raise DeadlinePassed(f"no complete answer within {self.deadline:g} s")
            return response
        except (requests.exceptions.RequestException, Urllib3Error, OSError) as exc:
            if expired.is_set():
                raise DeadlinePassed(
                    f"no complete answer within {self.deadline:g} s", request=request
                ) from None
            if isinstance(exc, requests.exceptions.RequestException):
                raise
            raise requests.exceptions.ConnectionError(exc, request=request) from None
        finally:
            watchdog.cancel()
            _current.sockets = None
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _body(self, response: requests.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.raw.stream(CHUNK, decode_content=True):
                size += len(chunk)
                if size > self.limit:
                    raise AnswerTooLarge(
                        f"an answer of over {self.limit // 1024} KiB", response=response
                    )
                chunks.append(chunk)
        finally:
            response.close()
        return b"".join(chunks)


class TokenSession(OAuth2Session):  # type: ignore[misc]
    """An ``OAuth2Session`` whose requests never follow a redirect."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        response: requests.Response = super().send(request, **kwargs)
        return response


def bounded_session(deadline: float) -> requests.Session:
    """A plain session with the same bounds, for requests that are not grants (doctor's probe)."""
    session = requests.Session()
    adapter = BoundedAdapter(deadline)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def token_session(client: Any, deadline: float) -> TokenSession:
    """A session for one token request to ``client``'s token endpoint (see module docstring)."""
    session = TokenSession(client=client)
    adapter = BoundedAdapter(deadline)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def transport_error(
    exc: requests.exceptions.RequestException, host: str, timeout: float, trust: Trust
) -> TokenRequestError:
    """The one-line error for a token request that got no (complete) HTTP answer."""
    if isinstance(exc, requests.exceptions.SSLError):
        return TokenRequestError(tls_failure(host, reason_of(exc), trust))
    if isinstance(exc, DeadlinePassed):
        return TokenRequestError(
            f"the token server {host} did not finish its answer within {deadline(timeout):g} s; "
            "try again later, or raise `timeout` in the profile"
        )
    if isinstance(exc, AnswerTooLarge):
        return TokenRequestError(
            f"the token server {host} sent an answer larger than {MAX_ANSWER // 1048576} MiB, "
            "which no token answer is; check token_url"
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return TokenRequestError(
            f"the token server {host} did not answer within {timeout:g} s; "
            "try again later, or raise `timeout` in the profile"
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return TokenRequestError(
            f"cannot connect to the token server {host} ({reason_of(exc)}); "
            "check the network and token_url (`bp-helper doctor` helps)"
        )
    return TokenRequestError(f"request to the token server {host} failed: {reason_of(exc)}")


def deadline(timeout: float) -> float:
    """Seconds one token request may take in all (``timeout`` is per read)."""
    return 2 * timeout


def tls_failure(host: str, reason: str, trust: Trust) -> str:
    """A failed TLS verification: the CA file that was used, where that choice came from, and
    what to change (the profile's ``ca_bundle``, which wins over the environment)."""
    curl_bundle = os.environ.get("CURL_CA_BUNDLE")  # what requests reads when nothing else is
    if trust.path is None and curl_bundle:
        used = f"CA file {curl_bundle} (from env CURL_CA_BUNDLE, which requests reads)"
    else:
        used = trust.describe(None if trust.path else DEFAULT_CA_BUNDLE_PATH)
    said = f"TLS verification of {host} failed ({reason}) with {used}"
    python = "in Python, pass verify=bp_helper.ca_bundle(profile) to the API calls too"
    if trust.from_profile:
        return f"{said}; check that it holds the CA that signed {host}'s certificate ({python})"
    return (
        f"{said}; if {host} uses another CA, point the profile's ca_bundle at its "
        f"certificate (`bp-helper config set ca_bundle PATH`; {python})"
    )
