"""What every auth class of the library shares: which token a URL gets, and when to renew it.

:class:`BoundTokens` decides, per scheme and host, which profile's
:class:`~bp_helper.engine.service.TokenService` serves a URL (``None``: no profile is bound
there, and no token is sent). :func:`renewed_token` is the one place that decides whether
a 401 answer calls for a new token and a second try. ``BioProdictAuth`` (requests) and
``HttpxAuth`` (httpx) only adapt them to their library's request and response types.
"""

from __future__ import annotations

import re
import time
from typing import NamedTuple
from urllib.parse import urlsplit

from bp_helper import log
from bp_helper.config.hosts import netloc_of, origin, refusal
from bp_helper.config.settings import Settings
from bp_helper.engine.service import TokenService
from bp_helper.errors import BpError, HostNotBound
from bp_helper.library.logger import use_logging
from bp_helper.route import route
from bp_helper.tokens import StoredToken

# error="..." in a Bearer challenge (RFC 6750 section 3)
_CHALLENGE_ERROR = re.compile(r'\berror\s*=\s*"?([A-Za-z_]+)', re.IGNORECASE)
# A 401 that gives no reason, for a token obtained less than this long ago, is taken to be
# about something else (a missing permission): a new token would not fix it.
RENEW_GRACE = 60.0  # seconds
# Rejected token -> the token this process got in its place: never a second grant for it.
_renewed_for: dict[str, str] = {}


class ProfileAuth:
    """What every auth class takes (see :class:`~bp_helper.BioProdictAuth`) and how it finds
    a URL's token service: a mixin, first in the bases, before the HTTP library's auth base."""

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
        self._bound = BoundTokens(profile, username, refuse_unbound)
        use_logging()  # our debug lines and warnings reach the program's logging too

    def service_for(self, url: str) -> TokenService | None:
        """The token service of the profile bound to ``url``'s host, or ``None``."""
        return self._bound.service_for(url)


class BoundTokens:
    """The token services of the profiles bound to the hosts an auth object meets.

    ``profile=None`` chooses as the command line does: ``BIOPRODICT_PROFILE`` if set, else
    the configured profile bound to the request's host (``default`` first). ``username``
    picks between profiles bound to the same host, and is the account a login is for.
    With ``refuse_unbound``, a URL no profile is bound to raises
    :class:`~bp_helper.errors.HostNotBound` instead of going out without a token.
    """

    def __init__(self, profile: str | None, username: str | None, refuse_unbound: bool) -> None:
        self.profile = profile
        self.username = username
        self.refuse_unbound = refuse_unbound
        self._services: dict[tuple[str, str], TokenService | None] = {}
        self._kept: dict[TokenService, _Kept] = {}  # the token last handed out, per service
        self._keys: dict[tuple[str, str], tuple[str, str]] = {}  # see _key

    def service_for(self, url: str) -> TokenService | None:
        """The token service of the profile bound to ``url``'s host, or ``None``."""
        key = self._key(url)
        if key is None:
            return None
        if key not in self._services:
            flags = {"profile": self.profile} if self.profile else {}
            found = route(Settings(flags), *key, self.username)
            self._services[key] = found.service() if found is not None else None
        return self._services[key]

    def _key(self, url: str) -> tuple[str, str] | None:
        """``url``'s scheme and :func:`netloc_of`, remembered per scheme and netloc as written
        (of which they are a function); ``None`` for a URL without a valid host and port."""
        parts = urlsplit(url)
        written = (parts.scheme, parts.netloc)
        if written not in self._keys:
            try:
                key = (parts.scheme.lower(), netloc_of(url))
            except (BpError, ValueError):
                return None
            if len(self._keys) > 1000:  # a program that meets ever new hosts
                self._keys.clear()
            self._keys[written] = key
        return self._keys[written]

    def ready(self, url: str) -> tuple[TokenService, str] | NotReady | None:
        """:meth:`token_for`'s answer if it is at hand: ``url``'s route is known and its token
        kept (:meth:`cached_token`), or no profile is bound there; else :data:`NOT_READY`.
        Never reads the config or the store, never waits: fit for an event loop."""
        try:
            service = self._services[self._key(url) or ("", "")]
        except (KeyError, ValueError):
            return NOT_READY
        if service is None:
            return NOT_READY if self.refuse_unbound else None
        hit = self.cached_token(service)
        return NOT_READY if hit is None else (service, hit)

    def token_for(self, url: str) -> tuple[TokenService, str] | None:
        """The service and access token to send to ``url``; ``None``: send no token there.

        May read the store, wait for the profile's lock, refresh or log in (and so ask).
        """
        service = self.service_for(url)
        if service is None:
            if self.refuse_unbound:  # the profile asked for (or BIOPRODICT_PROFILE's), if any
                asked = Settings({"profile": self.profile} if self.profile else {})
                named = asked.profile if asked.resolve("profile").source != "default" else None
                raise HostNotBound(refusal(url, named))
            log.debug(f"{origin(url)}: no token sent")  # the route said which is not bound
            return None
        hit = self.cached_token(service)
        if hit is not None:
            return service, hit
        before = service.store.identity()
        token = service.get()
        self._remember(service, token, before)
        return service, token.access_token

    def cached_token(self, service: TokenService) -> str | None:
        """The access token handed out for ``service`` before, if it may go out again without
        reading the store: not due for a refresh, and the token file (and its folder) still
        the one it was read from (:meth:`~bp_helper.engine.store.TokenStore.identity`).
        Looks at the clock and one ``lstat``; reads, waits for and asks nothing."""
        kept = self._kept.get(service)
        if kept is None or time.time() >= kept.due_at:
            return None
        if service.store.identity() != kept.identity:
            return None
        return kept.access_token

    def _remember(
        self, service: TokenService, token: StoredToken, before: tuple[int, ...] | None
    ) -> None:
        """Keep ``token`` for :meth:`cached_token` if it is what the store held at identity
        ``before`` and still holds: the file did not change while ``get`` read it, and the
        token is fresh (not one handed out during an outage) and not ``BIOPRODICT_TOKEN``'s.
        Else keep nothing: the next request reads the store again."""
        margin = service.settings.value("refresh_margin")
        if (
            before is None
            or service.settings.value("token")
            or not token.fresh(margin)
            or service.store.identity() != before
        ):
            self._kept.pop(service, None)
            return
        self._kept[service] = _Kept(token.access_token, token.due_at(margin), before)

    def renewed(
        self,
        service: TokenService,
        sent_token: str,
        answered_authorization: str | None,
        challenge: str,
    ) -> str | None:
        """:func:`renewed_token`, after which the next request reads the store again if the
        401 said the token is bad (it may have been revoked: the store decides)."""
        if answered_authorization == f"Bearer {sent_token}" and token_rejected(challenge):
            self._kept.pop(service, None)
        return renewed_token(service, sent_token, answered_authorization, challenge)


class NotReady:
    """What :meth:`BoundTokens.ready` answers when the token is not at hand without reading
    or waiting (:data:`NOT_READY`)."""


NOT_READY = NotReady()


class _Kept(NamedTuple):
    """An access token :class:`BoundTokens` handed out, with when it is due and the token
    file's identity when it was read."""

    access_token: str
    due_at: float
    identity: tuple[int, ...]


def token_rejected(challenge: str) -> bool:
    """Does a 401 with this ``WWW-Authenticate`` say the token is bad (``invalid_token``, or
    no reason given)? ``insufficient_scope`` or ``invalid_request`` a new token cannot fix."""
    match = _CHALLENGE_ERROR.search(challenge)
    return match is None or match.group(1).lower() == "invalid_token"


def renewal_wanted(service: TokenService, sent_token: str, challenge: str) -> bool:
    """Should a 401 with this ``WWW-Authenticate`` cost a new token for ``sent_token``?

    Yes for ``error="invalid_token"``, and for a 401 without a reason unless the token was
    obtained moments ago (:data:`RENEW_GRACE`). So an API that answers every request 401
    (a permission the account lacks) costs at most one refresh, not one per request; and
    :func:`renewed_token` never makes a second grant for the same rejected token.
    """
    if not token_rejected(challenge):
        return False
    if _CHALLENGE_ERROR.search(challenge) is None:
        stored = service.stored()
        if stored is not None and stored.access_token == sent_token:
            age = time.time() - stored.obtained_at
            if 0 <= age < RENEW_GRACE:
                log.debug(f"a 401 without a reason for a token {age:.0f} s old: not renewing")
                return False
    return True


def renewed_token(
    service: TokenService, sent_token: str, answered_authorization: str | None, challenge: str
) -> str | None:
    """After a 401: the token to send the request again with, once; ``None``: let it stand.

    ``answered_authorization`` is the ``Authorization`` header of the request the 401
    answered (after redirects, that may be another request, without our token: renewing
    then would send a new token to whoever answered). ``challenge`` is its
    ``WWW-Authenticate`` header. The one place that decides renew-on-401 for every auth class.
    """
    if answered_authorization != f"Bearer {sent_token}":
        log.debug("a 401 answered a request without the token: not renewing")
        return None
    if not renewal_wanted(service, sent_token, challenge):
        return None
    if sent_token in _renewed_for:  # renewed once already: the same answer, no new grant
        log.debug("a new token was already obtained after a 401 for this one")
        renewed = _renewed_for[sent_token]
        return None if renewed == sent_token else renewed
    renewed = service.renew(sent_token).access_token
    if len(_renewed_for) > 1000:  # a long-running program: forget the oldest decisions
        _renewed_for.clear()
    _renewed_for[sent_token] = renewed
    if renewed == sent_token:
        return None  # BIOPRODICT_TOKEN, or nothing newer: the 401 stands
    log.debug("the server rejected the access token: renewed it, sending the request again")
    return renewed
