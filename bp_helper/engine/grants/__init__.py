"""Grants: how a profile gets its tokens, one class per value of the ``grant`` setting.

The settings table's ``grant`` row (:data:`bp_helper.config.table.GRANTS`) lists the values;
each names the module of this package that implements it (``password`` ->
:mod:`~bp_helper.engine.grants.password`, ``client_credentials`` ->
:mod:`~bp_helper.engine.grants.client_credentials`), whose ``GRANT`` is a :class:`Grant`.
:func:`grant_of` picks it. The token service, ``login``, ``status`` and ``doctor`` ask the
grant what to do and say; none of them asks which grant a profile has. Adding a grant (say,
the device-code grant) is one module here and one value in the table.

The grant modules import the network stack only inside the methods that make a request (see
:meth:`~bp_helper.engine.service.TokenService.client`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from bp_helper.config.settings import Settings
from bp_helper.config.table import GRANTS
from bp_helper.engine.login import profile_command
from bp_helper.errors import ConfigError
from bp_helper.tokens import StoredToken

if TYPE_CHECKING:  # the service imports this package
    from bp_helper.engine.service import TokenService


class Grant:
    """One way of getting a profile's tokens, for that profile's :class:`Settings`.

    Subclasses implement every method that raises :class:`NotImplementedError`; the others
    have defaults that suit a grant a person logs in to.
    """

    name = ""  # the grant setting's value
    # Secrets this grant never uses -> what status and doctor say instead of their source.
    unused_secrets: dict[str, str] = {}  # noqa: RUF012 -- never mutated

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- tokens -------------------------------------------------------------------------

    def check(self) -> None:
        """Raise a :class:`~bp_helper.errors.ConfigError` for a setting the grant needs and
        lacks, before the cache is read (a broken profile fails the same way every time)."""

    @property
    def account(self) -> str | None:
        """The account of the store its token is kept under (``None``: the default one)."""
        raise NotImplementedError

    def owns(self, token: StoredToken) -> bool:
        """Was ``token`` issued by this grant, for the profile's current token URL and client
        (and whatever else the grant asks for: a user, an audience)?"""
        raise NotImplementedError

    def same_client(self, token: StoredToken) -> bool:
        """``token`` came from the profile's token URL, for its client id."""
        return (
            token.token_url == self.settings.value("token_url")
            and token.client_id == self.settings.client_id
        )

    def renewable(self, token: StoredToken) -> bool:
        """Can a new access token replace ``token`` without asking anyone?"""
        raise NotImplementedError

    def obtain(self, service: TokenService, previous: StoredToken | None) -> StoredToken:
        """A new access token, stored; called under the profile's lock when the store holds
        no fresh one. ``previous`` is what the store holds under :attr:`account` (which may
        not be this grant's: see :meth:`owns`); ``service`` is the profile's, with its
        store, keyring and notes."""
        raise NotImplementedError

    def login(
        self,
        service: TokenService,
        username: str | None,
        password: str | None,
        twofactor: str | None,
        remember_password: bool,
    ) -> StoredToken:
        """An explicit login (``bp-helper login``, docker's ``store``, ``bp_helper.login``),
        whatever is cached; called under the profile's lock."""
        raise NotImplementedError

    # -- what the commands say about it -------------------------------------------------

    def describe(self) -> str:
        """What doctor's client line adds about the grant ("": nothing to add)."""
        return ""

    def no_token(self) -> tuple[str, str]:
        """``status``'s line (label, text) when the store holds no token of this grant."""
        return "Logged in as", f"nobody (run `{profile_command(self.settings)} login`)"

    def login_lines(self, who: str) -> list[str]:
        """What ``bp-helper login`` says first, once it got a token for ``who`` (the account,
        as the command shows it)."""
        raise NotImplementedError

    def login_state(self, record: StoredToken | None) -> str | None:
        """doctor's login line when the grant needs no person; ``None``: doctor checks the
        login of a person."""
        return None

    def probe(self) -> tuple[str, tuple[float | None, float]] | None:
        """doctor's check of the token URL, with the server's Date and the local time of its
        answer, when the grant checks it itself; ``None``: doctor probes the endpoint."""
        return None


def grant_of(settings: Settings) -> Grant:
    """The grant the profile's ``grant`` setting names (an invalid value is a ConfigError)."""
    name = settings.value("grant")
    if name not in GRANTS:  # the table's conversion allows only these
        raise ConfigError(f"unknown grant {name!r}")
    # The value names its module, which subclasses Grant from here: imported by name.
    grant: type[Grant] = importlib.import_module(f"{__name__}.{name}").GRANT
    return grant(settings)
