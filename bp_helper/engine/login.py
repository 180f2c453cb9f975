"""A password login: username, password and two-factor code, then the password grant.

Run by :class:`~bp_helper.engine.service.TokenService` while it holds the profile's lock, and
imported only then: the cached path never loads it. Where each secret comes from is
:mod:`bp_helper.secrets.sources`; a refusal is recorded for the backoff
(:mod:`bp_helper.engine.notes`); the password goes to the OS keyring only when asked to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bp_helper import log
from bp_helper.engine.store import StoredToken
from bp_helper.errors import CredentialsRejected, LoginRequired
from bp_helper.secrets import sources as credentials

if TYPE_CHECKING:
    from bp_helper.engine.client import TokenClient
    from bp_helper.engine.service import TokenService


class PasswordLogin:
    """One password login of the profile that ``service`` serves."""

    def __init__(self, service: TokenService) -> None:
        self.service = service

    def run(
        self,
        previous: StoredToken | None,
        username: str | None = None,
        password: str | None = None,
        twofactor: str | None = None,
        remember_password: bool = False,
    ) -> StoredToken:
        """Log in, store the tokens (and the password, if asked to), return the token."""
        svc = self.service
        client = svc.client()  # configuration errors before any prompt
        prompter = svc.prompter
        if previous is not None and not svc.matches(previous):
            previous = None
        username = (
            username or svc.settings.value("username") or (previous.username if previous else None)
        )
        if not username:
            username = prompter.ask("Bio-Prodict username: ", secret=False).strip()
            if not username:
                raise LoginRequired("no username given")
        remembered = bool(
            previous and previous.password_in_keyring and previous.username == username
        )
        secret = credentials.password(
            credentials.password_sources(
                svc.settings,
                prompter,
                username,
                given=password,
                remembered=(
                    (svc.keyring.keyring, svc.keyring.password_entry(username))
                    if remembered
                    else None
                ),
            )
        )
        code = twofactor
        if code is None:
            expected = previous is not None and previous.twofactor and prompter.interactive
            found = credentials.twofactor(svc.settings, prompter if expected else None)
            code = found.value if found else None
        try:
            token = self._grant(client, username, secret.value, code)
        except CredentialsRejected as exc:
            if not (exc.maybe_twofactor and exc.code_missing):  # a missing code: no backoff
                svc.refusals.remember(username, exc.reason)
            if secret.source == credentials.KEYRING and not exc.maybe_twofactor:
                self._forget_remembered_password(username)
                raise CredentialsRejected(
                    f"{exc.reason}: the password remembered in the OS keyring was refused, "
                    "so it is forgotten; run `bp-helper login` to give the current one"
                ) from None
            raise
        svc.refusals.clear()
        svc.failures.clear()
        # Store the password when asked to, or refresh a remembered one that a person just
        # typed (the keyring copy was missing or unreadable); other sources leave it alone.
        keep = remembered
        typed = secret.source in (credentials.PROMPT, credentials.STDIN)
        if remember_password or (remembered and typed):
            keep = svc.keyring.remember_password(username, secret.value) or remembered
        svc.save(token._replace(password_in_keyring=keep))
        log.debug(f"logged in as {token.username!r}")
        return token

    def _grant(
        self, client: TokenClient, username: str, password: str, code: str | None
    ) -> StoredToken:
        """The password grant; asks for a two-factor code and tries once more if needed."""
        svc = self.service
        try:
            return client.password_grant(username, password, code)
        except CredentialsRejected as exc:
            if not exc.maybe_twofactor:
                raise CredentialsRejected(
                    f"{exc.message}: check the username and password of {username!r}, "
                    "then run `bp-helper login`",
                    reason=exc.message,
                ) from None
            if code is not None or not svc.prompter.interactive:
                refused = CredentialsRejected(
                    f"{exc.message}: give the current two-factor code with "
                    "`bp-helper login --twofactor CODE` or BIOPRODICT_TWOFACTOR",
                    maybe_twofactor=True,
                    reason=exc.message,
                )
                refused.code_missing = code is None
                raise refused from None
        found = credentials.twofactor(svc.settings, svc.prompter)
        if found is None:
            raise LoginRequired("no two-factor code given")
        return client.password_grant(username, password, found.value)

    def _forget_remembered_password(self, username: str) -> None:
        svc = self.service
        svc.keyring.forget(svc.keyring.password_entry(username))
        record = svc.store.load()
        if record is not None and record.password_in_keyring:
            svc.store.save(record._replace(password_in_keyring=False))
