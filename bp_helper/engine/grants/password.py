"""The password grant: a person logs in with a username, a password and perhaps a two-factor
code, and the refresh token renews the access token until it is refused.

Its tokens are kept under the name the login was made with (the ``username`` setting picks
one; none: the profile's default account). When the store holds no fresh token, the refresh
token is tried first; a refused one costs a password login, a transient failure while the
old access token is still valid hands out the old one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bp_helper import log
from bp_helper.config.table import PASSWORD
from bp_helper.engine.grants import Grant
from bp_helper.engine.login import PasswordLogin, login_command, login_hint
from bp_helper.engine.room import room_for_a_write
from bp_helper.errors import (
    BpError,
    LoginRequired,
    RefreshRejected,
    StoreError,
    TokenRequestError,
)
from bp_helper.tokens import StoredToken

if TYPE_CHECKING:  # the service imports the grants
    from bp_helper.engine.service import TokenService


class PasswordGrant(Grant):
    """A person's login: password grant, then refresh grants."""

    name = PASSWORD

    @property
    def account(self) -> str | None:
        name: str | None = self.settings.value("username")
        return name

    def owns(self, token: StoredToken) -> bool:
        """Issued for this token URL and client by a password grant, and to the ``username``
        setting's user if one is set: matched by the name the login was made with, not the
        server's spelling of it."""
        username = self.settings.value("username")
        return (
            self.same_client(token)
            and token.audience is None
            and (username is None or token.account == username)
        )

    def renewable(self, token: StoredToken) -> bool:
        return token.has_refresh_token

    def obtain(self, service: TokenService, previous: StoredToken | None) -> StoredToken:
        wanted = self.account
        if previous is not None and self.owns(previous) and self.renewable(previous):
            previous = service.keyring.with_refresh_token(previous)
        if previous is not None and self.owns(previous) and previous.refresh_token:
            refreshed = self._refresh(service, previous)
            if refreshed is not None:
                return refreshed
            previous = service.store.load(wanted)
        username = wanted or (previous.account if previous else None)
        if username:
            again = login_command(self.settings, username)
            service.refusals.check(username, f"fix the password, then run `{again}`")
        try:
            matching = previous if previous is not None and self.owns(previous) else None
            return self._password_login(service).run(previous=matching)
        except LoginRequired as exc:
            if exc.names_next_step:  # e.g. a missing username: the password hint would mislead
                raise LoginRequired(f"login needed: {exc.message}") from None
            hint = login_hint(self.settings, username)
            raise LoginRequired(f"login needed: {exc.message}; {hint}") from None

    def _refresh(self, service: TokenService, previous: StoredToken) -> StoredToken | None:
        try:
            with room_for_a_write(service.store.path):  # else a rotated refresh token is lost
                token = service.client().refresh_grant(previous)
        except StoreError as exc:
            if previous.expired():
                raise
            log.warn(f"{exc.message}; using the current token until it expires")
            return previous
        except RefreshRejected as exc:
            log.debug(f"{exc.message}; a password login is needed")
            service.save(previous.without_refresh_token())
            return None
        except TokenRequestError as exc:
            if exc.transient and not previous.expired():
                log.warn(f"{exc.message}; using the current token until it expires")
                service.failures.remember(self.settings.value("token_url"), exc.message)
                return previous
            raise
        token = token._replace(
            password_in_keyring=previous.password_in_keyring, login=previous.account
        )
        try:
            service.save(token)
            service.failures.clear()
        except BpError as exc:  # a full disk: the new access token works all the same
            log.warn(f"{exc.message}; the new tokens are lost, a login will be needed again")
        log.debug("refreshed the access token")
        return token

    def login(
        self,
        service: TokenService,
        username: str | None,
        password: str | None,
        twofactor: str | None,
        remember_password: bool,
    ) -> StoredToken:
        """A new password login; its account becomes the profile's default (a request that
        names no user gets it). Other accounts of the profile are kept."""
        return self._password_login(service, default=True).run(
            previous=service.stored(username),
            username=username,
            password=password,
            twofactor=twofactor,
            remember_password=remember_password,
        )

    def _password_login(self, service: TokenService, default: bool = False) -> PasswordLogin:
        return PasswordLogin(
            settings=self.settings,
            client=service.client(),  # configuration errors before any prompt
            prompter=service.prompter,
            keyring=service.keyring,
            refusals=service.refusals,
            failures=service.failures,
            save=lambda token: service.save(token, default=default),
            store=service.store,
        )

    def login_lines(self, who: str) -> list[str]:
        return [f"Logged in to profile {self.settings.profile!r} as {who}."]


GRANT = PasswordGrant
