"""A password login: username, password and two-factor code, then the password grant.

Run by :class:`~bp_helper.engine.service.TokenService` while it holds the profile's lock.
Where each secret comes from is
:mod:`bp_helper.secrets.sources`; a refusal is recorded for the backoff
(:mod:`bp_helper.engine.notes`); the password goes to the OS keyring only when asked to.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bp_helper import log
from bp_helper.config.settings import Settings
from bp_helper.engine.notes import FailureNote, RefusalNote
from bp_helper.engine.store import TokenStore
from bp_helper.errors import CredentialsRejected, LoginRequired, UsageError
from bp_helper.secrets import sources as credentials
from bp_helper.secrets.profile_keyring import ProfileKeyring
from bp_helper.secrets.prompt import Prompter
from bp_helper.tokens import StoredToken

if TYPE_CHECKING:  # the network stack (see TokenService.client)
    from bp_helper.engine.client import TokenClient


# Refusals that a new password cannot fix: the account's state (the next step is support).
ACCOUNT_STATE_WORDS = ("locked", "disabled", "expired")


def login_command(settings: Settings, username: str | None) -> str:
    """The command a hint names: ``bp-helper [--profile P] login [--username U]``."""
    user = f" --username {shlex.quote(username)}" if username else ""
    return f"{profile_command(settings)} login{user}"


def login_hint(settings: Settings, username: str | None) -> str:
    """What a front-end that needs a login says to do."""
    return f"run `{login_command(settings, username)}` in a terminal, or set BIOPRODICT_PASSWORD"


def profile_command(settings: Settings) -> str:
    """``bp-helper``, with ``--profile P`` unless the profile is the default one."""
    return (
        "bp-helper" if settings.profile == "default" else f"bp-helper --profile {settings.profile}"
    )


@dataclass(frozen=True)
class PasswordLogin:
    """One password login of a profile, with what it works with passed in.

    ``client`` sends the grant, ``prompter`` asks what nobody gave, ``keyring`` holds a
    remembered password, ``refusals``/``failures`` are the profile's notes, ``save`` stores
    new tokens (through the keyring's share), and ``store`` is the profile's token file.
    """

    settings: Settings
    client: TokenClient
    prompter: Prompter
    keyring: ProfileKeyring
    refusals: RefusalNote
    failures: FailureNote
    save: Callable[[StoredToken], None]
    store: TokenStore

    def run(
        self,
        previous: StoredToken | None,
        username: str | None = None,
        password: str | None = None,
        twofactor: str | None = None,
        remember_password: bool = False,
    ) -> StoredToken:
        """Log in, store the tokens (and the password, if asked to), return the token.

        ``previous``: the profile's stored token if it matches the settings, else ``None``.
        """
        prompter = self.prompter
        username = username or self.settings.value("username")
        username = username or (previous.account if previous else None)
        if not username and not prompter.interactive:
            why = getattr(prompter, "reason", "nobody can be asked")
            raise LoginRequired(
                f"a username is needed, but {why}: give "
                f"`{login_command(self.settings, 'NAME')}`, set BIOPRODICT_USERNAME, or "
                f"`{profile_command(self.settings)} config set username NAME`",
                names_next_step=True,
            )
        if not username:
            question = f"Bio-Prodict username ({credentials.where_to(self.settings)}): "
            username = prompter.ask(question, secret=False).strip()
            if not username:
                again = profile_command(self.settings)
                raise LoginRequired(f"no username given: run `{again} login` again")
        remembered = bool(
            previous and previous.password_in_keyring and previous.account == username
        )
        try:
            secret = credentials.password(
                credentials.password_sources(
                    self.settings,
                    prompter,
                    username,
                    given=password,
                    remembered=(
                        (self.keyring.keyring, self.keyring.password_entry(username))
                        if remembered
                        else None
                    ),
                )
            )
        except LoginRequired as exc:
            if prompter.interactive:
                raise
            raise LoginRequired(
                f"{exc.message}: run `{login_command(self.settings, username)}` in a terminal, "
                "or give the password on standard input to its `--password-stdin`, or in "
                "BIOPRODICT_PASSWORD",
                names_next_step=True,
            ) from None
        if not secret.value:  # one more failed attempt on the account, for nothing
            raise UsageError(
                f"empty password (from {secret.source}), nothing sent: give the password of "
                f"{username!r}"
            )
        code = twofactor
        if code is None:
            expected = previous is not None and previous.twofactor and prompter.interactive
            found = credentials.twofactor(self.settings, prompter if expected else None)
            code = found.value if found else None
        retries = prompter.password_retries if secret.source == credentials.PROMPT else 0
        while True:
            try:
                token = self._grant(username, secret.value, code)
                break
            except CredentialsRejected as exc:
                if not (exc.maybe_twofactor and exc.code_missing):  # a missing code: no backoff
                    self.refusals.remember(username, exc.reason)
                if secret.source == credentials.KEYRING and not exc.maybe_twofactor:
                    self._forget_remembered_password(username)
                    raise CredentialsRejected(
                        f"{exc.reason}: the password remembered in the OS keyring was refused, "
                        f"so it is forgotten; run `{login_command(self.settings, username)}` to "
                        "give the current one"
                    ) from None
                if exc.maybe_twofactor or exc.retry_no or retries <= 0:
                    raise
                retries -= 1
                secret = self._ask_again(username, exc.reason)
        self.refusals.clear()
        self.failures.clear()
        # Store the password when asked to, or refresh a remembered one that a person just
        # typed (the keyring copy was missing or unreadable); other sources leave it alone.
        keep = remembered
        typed = secret.source in (credentials.PROMPT, credentials.STDIN)
        if remember_password or (remembered and typed):
            keep = self.keyring.remember_password(username, secret.value) or remembered
        # Kept and matched under the name it logged in with, however the server spells it.
        token = token._replace(password_in_keyring=keep, login=username)
        self.save(token)
        log.debug(f"logged in as {token.username!r}")
        return token

    def _grant(self, username: str, password: str, code: str | None) -> StoredToken:
        """The password grant; asks for a two-factor code and tries once more if needed."""
        try:
            return self.client.password_grant(username, password, code)
        except CredentialsRejected as exc:
            if any(word in exc.message.lower() for word in ACCOUNT_STATE_WORDS):
                refused = CredentialsRejected(
                    f"{exc.message}: the account of {username!r} cannot log in now; ask "
                    "Bio-Prodict support (or your 3DM administrator) to unlock it",
                    reason=exc.message,
                )
                refused.retry_no = True  # a new password would not help
                raise refused from None
            again = login_command(self.settings, username)
            if not exc.maybe_twofactor:
                raise CredentialsRejected(
                    f"{exc.message}: check the username and password of {username!r}, "
                    f"then run `{again}`",
                    reason=exc.message,
                ) from None
            if code is not None or not self.prompter.interactive:
                advice = (
                    f"the two-factor code was refused: run `{again}` again with the "
                    "current code (`--twofactor CODE`; codes change every 30 seconds)"
                    if code is not None
                    else "this account needs a two-factor code: give it with "
                    f"`{again} --twofactor CODE` or BIOPRODICT_TWOFACTOR"
                )
                refused = CredentialsRejected(
                    f"{exc.message}: {advice}", maybe_twofactor=True, reason=exc.message
                )
                refused.code_missing = code is None
                raise refused from None
        found = credentials.twofactor(self.settings, self.prompter)
        if found is None:
            raise LoginRequired("no two-factor code given")
        return self.client.password_grant(username, password, found.value)

    def _ask_again(self, username: str, refusal: str) -> credentials.Secret:
        """The password once more, from the person whose typed one was just refused."""
        log.debug(f"the password of {username!r} was refused; asking again")
        where = credentials.where_to(self.settings)
        question = f"{refusal}; Bio-Prodict password for {username} ({where}) again: "
        value = self.prompter.ask(question, secret=True)
        log.add_secret(value)
        if not value:
            raise UsageError(f"empty password, nothing sent: give the password of {username!r}")
        return credentials.Secret(value, credentials.PROMPT)

    def _forget_remembered_password(self, username: str) -> None:
        self.keyring.forget(self.keyring.password_entry(username))
        token = self.store.load(username)
        if token is not None and token.password_in_keyring:
            self.store.save(token._replace(password_in_keyring=False))
