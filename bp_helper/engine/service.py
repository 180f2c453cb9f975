"""Getting a valid access token: cached, refreshed, or from a new password login.

:meth:`TokenService.get` is the path every front-end takes. While the stored token is
fresh it costs one file read and imports nothing from the network stack. Otherwise it
takes the profile's cross-process lock, reads the store again (another process may have
refreshed meanwhile: a burst of callers makes one token request), then asks the profile's
grant (:mod:`bp_helper.engine.grants`) for a new token: the password grant refreshes, or
logs in when there is no usable refresh token; the client-credentials grant (a machine
account) makes a new grant. Which stored token is the profile's is the grant's to say too.

A failed refresh keeps the refresh token unless the server rejected it; a transient
failure while the old access token is still valid hands out the old token. Callers that
waited for the lock while its holder failed to get a new token share the holder's outcome
(that old token, or its error) instead of repeating the attempt one after the other, unless
the failure may be the holder's own: its settings, no terminal to ask, a prompt cancelled
(see :mod:`bp_helper.engine.notes`). Waiting sleeps on the lock (see
:mod:`bp_helper.engine.store`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from bp_helper import log, waiting
from bp_helper.config.settings import Settings
from bp_helper.config.tls import trust
from bp_helper.engine.grants import Grant, grant_of
from bp_helper.engine.logout import forget_profile
from bp_helper.engine.notes import FailureNote, RefusalNote
from bp_helper.engine.store import TokenStore
from bp_helper.errors import (
    AudienceRejected,
    BpError,
    ClientRejected,
    ConfigError,
    CredentialsRejected,
    LoginRefusedRecently,
    StoreError,
    TokenRequestError,
)
from bp_helper.secrets import sources as credentials
from bp_helper.secrets.oskeyring import OsKeyring
from bp_helper.secrets.profile_keyring import ProfileKeyring
from bp_helper.secrets.prompt import Prompter, choose_prompter
from bp_helper.tokens import StoredToken, sendable

if TYPE_CHECKING:  # the network stack (see TokenService.client)
    from bp_helper.engine.client import TokenClient


# The failures a caller that held the lock shares with those waiting for it, and what they
# raise for it, by class name: what the server answered, and the store (a full disk). Not
# what may differ from one caller to the next: its settings and secrets (ConfigError), its
# terminal (LoginRequired), its Ctrl-C (Cancelled). A subclass is shared as its base here.
_SHARED_KINDS: dict[str, type[BpError]] = {
    kind.__name__: kind
    for kind in (
        AudienceRejected,
        ClientRejected,
        CredentialsRejected,
        LoginRefusedRecently,
        StoreError,
        TokenRequestError,
    )
}


class TokenService:
    """Tokens of one profile, as its :class:`~bp_helper.config.settings.Settings` describe it."""

    def __init__(
        self, settings: Settings, prompter_factory: Callable[[], Prompter] | None = None
    ) -> None:
        self.settings = settings
        self._prompter_factory = prompter_factory or (
            lambda: choose_prompter(
                settings.value("noninteractive"), settings.resolve("noninteractive").source
            )
        )

    @cached_property
    def grant(self) -> Grant:
        """How this profile gets its tokens, as its ``grant`` setting says."""
        return grant_of(self.settings)

    @cached_property
    def store(self) -> TokenStore:
        return TokenStore(self.settings.store_dir / "tokens", self.settings.profile)

    @cached_property
    def prompter(self) -> Prompter:
        return self._prompter_factory()

    @cached_property
    def keyring(self) -> ProfileKeyring:
        """The profile's keyring entries (``keyring``, an extra, is imported on first use)."""
        return ProfileKeyring(
            self.settings.profile,
            OsKeyring(self.settings.value("keyring_timeout")),
            refresh_in_keyring=(self.settings.value("refresh_token_storage") == "keyring"),
            allow_plaintext=self.settings.value("allow_plaintext_keyring"),
        )

    @cached_property
    def refusals(self) -> RefusalNote:
        return RefusalNote(self.store.directory, self.settings.profile)

    @cached_property
    def failures(self) -> FailureNote:
        return FailureNote(self.store.directory, self.settings.profile)

    @property
    def lock_timeout(self) -> float:
        return waiting.lock_timeout(float(self.settings.value("timeout")))

    # -- reading ------------------------------------------------------------------------

    def env_token(self) -> StoredToken | None:
        """``BIOPRODICT_TOKEN``: handed out as it is, never cached."""
        value = self.settings.value("token")
        if not value:
            return None
        log.add_secret(value)
        if not sendable(value):
            raise ConfigError(
                "BIOPRODICT_TOKEN holds a space, a line break or another character no access "
                "token has: set it to the token alone"
            )
        named = self.settings.profile_table.get("username")  # whose it is: not anyone asked for
        named = self.settings.environ.get("BIOPRODICT_USERNAME") or named
        if self.settings.flags.get("username") not in (None, named):
            return None
        log.debug("using the access token from BIOPRODICT_TOKEN")
        return StoredToken(
            access_token=value,
            expires_at=math.inf,
            obtained_at=0.0,
            username=str(named or "token"),
            token_url=self.settings.value("token_url"),
            client_id="",
        )

    def matches(self, token: StoredToken) -> bool:
        """Is ``token`` the profile's: issued by its grant, for its current settings?"""
        return self.grant.owns(token)

    def cached(self) -> StoredToken | None:
        """The stored token if it is fresh and matches the settings; no network, no lock.

        The account is the one the grant keeps its tokens under (for a password login, the
        ``username`` setting's, else the profile's default account).
        """
        token = self.store.load(self.grant.account)
        if token is None:
            return None
        if not self.matches(token):
            log.debug("stored token belongs to another token URL, client or user")
            return None
        if token.fresh(self.settings.value("refresh_margin")):
            log.debug(f"stored token is fresh (expires at {token.expires_at:.0f})")
            return token
        return None

    def stored(self, account: str | None = None) -> StoredToken | None:
        """The stored record of ``account`` (else the grant's account), if it is the profile's."""
        token = self.store.load(account or self.grant.account)
        return token if token is not None and self.matches(token) else None

    # -- getting one --------------------------------------------------------------------

    def get(self) -> StoredToken:
        """A valid access token: from the environment, the cache, a refresh or a login.

        Never one that cannot be sent as it is (see :func:`sendable`): a token with a line
        break would end up quoted, in full, in whatever error the HTTP library raises.
        """
        token = self._get()
        if not sendable(token.access_token):
            raise BpError(
                f"the access token of profile {self.settings.profile!r} holds a space, a line "
                "break or another character no access token has, so it is not used; "
                "run `bp-helper login`"
            )
        return token

    def _get(self) -> StoredToken:
        token = self.env_token()
        if token is not None:
            return token
        self.settings.client_id  # noqa: B018 -- a missing client id is a config error first
        self.grant.check()
        token = self.cached()
        if token is not None:
            return token
        # A process whose cached path waited for this lock's holder waits since then, and
        # for what is left of the lock's timeout.
        waiting_since = waiting.waited_since(self.store.lock_path) or time.time()

        def outcome() -> StoredToken | None:
            return self._outcome_of_others(waiting_since)

        waited = max(0.0, time.time() - waiting_since)
        token = self.store.wait_while_locked(self.lock_timeout, outcome, waited)
        if token is not None:
            return token
        with self.store.lock(self.lock_timeout):
            token = outcome()  # a caller that held the lock just before us may have succeeded
            if token is not None:
                return token
            with self._failure_shared():
                return self.grant.obtain(self, self.store.load(self.grant.account))

    def _outcome_of_others(self, since: float) -> StoredToken | None:
        """While waiting for the lock: what its holder got, once it has got something.

        A fresh token it stored; or, when its request failed (at ``since`` or later) for a
        reason that would fail ours too, the old token while that is still valid, else its
        error, raised. ``None``: nothing yet (or nobody tried), so try ourselves.
        """
        token = self.cached()
        if token is not None:
            log.debug("another process refreshed the token meanwhile")
            return token
        failure = self.failures.since(
            since, self.settings.value("token_url"), self.settings.client_id, self.grant.account
        )
        if failure is None:
            return None
        previous = self.stored()
        if failure.transient and previous is not None and not previous.expired():
            log.warn(f"{failure.message}; using the current token until it expires")
            return previous
        log.debug("the token request this caller waited for failed: sharing its error")
        raise _SHARED_KINDS.get(failure.kind, BpError)(failure.message)

    @contextmanager
    def _failure_shared(self, only_transient: bool = False) -> Iterator[None]:
        """Record a failure for the callers that wait for this lock: a transient one, and
        (unless ``only_transient``) any other of :data:`_SHARED_KINDS`."""
        try:
            yield
        except BpError as exc:
            kind = next((k for k in type(exc).__mro__ if k.__name__ in _SHARED_KINDS), None)
            transient = isinstance(exc, TokenRequestError) and exc.transient
            if kind is not None and (transient or not only_transient):
                self.failures.remember(
                    self.settings.value("token_url"),
                    exc.message,
                    kind=kind.__name__,
                    transient=transient,
                    client_id=self.settings.client_id,
                    account=self.grant.account,
                )
            raise

    def login(
        self,
        username: str | None = None,
        password: str | None = None,
        twofactor: str | None = None,
        remember_password: bool = False,
    ) -> StoredToken:
        """A new login, whatever is cached (and whatever was refused before), as the grant
        makes it: for a password grant, the account becomes the profile's default."""
        with self.store.lock(self.lock_timeout), self._failure_shared(only_transient=True):
            return self.grant.login(self, username, password, twofactor, remember_password)

    def save(self, token: StoredToken, default: bool = False) -> None:
        """Write ``token`` to the store; the keyring takes what the profile keeps there."""
        replaced = self.store.load(token.account)
        self.store.save(self.keyring.for_file(token, replaced=replaced), default=default)

    def client(self) -> TokenClient:
        # The network stack (requests, oauthlib) is imported when a token request is made:
        # curl, curl-config and netrc hand out a stored token without it (tests/test_curl.py).
        from bp_helper.engine.client import ClientCredentials, TokenClient

        secret = credentials.client_secret(self.settings)
        return TokenClient(
            self.settings.value("token_url"),
            ClientCredentials(self.settings.client_id, secret.value),
            timeout=self.settings.value("timeout"),
            trust=trust(self.settings),
        )

    def renew(self, rejected_access_token: str) -> StoredToken:
        """A token to retry with after a resource server rejected ``rejected_access_token``.

        If the store still holds that token, it is dropped (the refresh token stays) and a
        new one is obtained; if another caller already replaced it, the new one is used.
        """
        self.forget_access_token(rejected=rejected_access_token)
        return self.get()

    # -- forgetting ---------------------------------------------------------------------

    def logout(self, account: str | None = None) -> bool:
        """Forget the profile's tokens (only ``account``'s, if given), what it keeps in the
        keyring, and a refused login."""
        with self.store.lock(self.lock_timeout):
            return forget_profile(self.store, self.keyring, account)

    def forget_access_token(self, rejected: str | None = None) -> bool:
        """Drop the cached access token (keeping the refresh token): the next get refreshes.

        With ``rejected``, only if the store still holds that very token: whoever was turned
        away with an old token must not throw away the one another process just got.
        """
        with self.store.lock(self.lock_timeout):
            token = self.store.load(self.grant.account)
            if token is None or not token.access_token:
                return False
            if rejected is not None and token.access_token != rejected:
                log.debug("the rejected access token was already replaced")
                return False
            self.store.save(token.without_access_token())
            return True
