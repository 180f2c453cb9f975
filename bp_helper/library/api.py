"""The Python API: ``bp_helper.login``, ``token``, ``logout``, ``status`` and ``ca_bundle``.

What ``bp-helper login|token|logout|status`` do, for scripts and notebooks: the same settings
resolver (``BIOPRODICT_*``, the config file, defaults; ``profile=None`` is
``BIOPRODICT_PROFILE`` or ``default``), the same token store and the same single-flight
refresh, so a script and the command line share one login. Whatever is missing is asked
where a person can answer: in the notebook inside a Jupyter kernel, else on the terminal;
with nobody to ask, :class:`~bp_helper.errors.LoginRequired` says what to do. Every error
raised on purpose is a :class:`~bp_helper.errors.BpError` with a one-line message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bp_helper import log
from bp_helper.config.settings import Settings
from bp_helper.config.tls import trust
from bp_helper.engine.service import TokenService
from bp_helper.errors import BpError
from bp_helper.library.logger import use_logging
from bp_helper.route import profile_route
from bp_helper.secrets.prompt import choose_prompter
from bp_helper.secrets.report import SecretPlace, secret_report
from bp_helper.tokens import StoredToken


@dataclass(frozen=True)
class Status:
    """Who is logged in to a profile, until when, and where each secret comes from."""

    profile: str
    username: str | None  # None: nobody is logged in
    fullname: str | None
    expires_at: datetime | None  # of the access token, in UTC; None: none, or it never does
    fresh: bool  # the access token is handed out without a token request
    refresh_token: bool  # a refresh token is kept, so no password is needed to renew
    token_from_environment: bool  # BIOPRODICT_TOKEN is set and handed out as it is
    secrets: Mapping[str, SecretPlace]  # "password", "client secret", ...: source and place
    store: Path  # the profile's token file

    @property
    def logged_in(self) -> bool:
        return self.username is not None or self.token_from_environment

    def __str__(self) -> str:
        if self.token_from_environment:
            return f"profile {self.profile!r}: BIOPRODICT_TOKEN is handed out as it is"
        if self.username is None:
            return f"profile {self.profile!r}: not logged in"
        who = f"{self.fullname} ({self.username})" if self.fullname else self.username
        until = f"until {self.expires_at:%Y-%m-%d %H:%M} UTC" if self.expires_at else "for good"
        return f"profile {self.profile!r}: {who}, access token valid {until}"


def _service(profile: str | None) -> TokenService:
    use_logging()  # our debug lines and warnings reach the program's logging too
    return profile_route(Settings({"profile": profile} if profile else {})).service()


def login(
    username: str | None = None,
    password: str | None = None,
    *,
    twofactor: str | None = None,
    profile: str | None = None,
) -> Status:
    """Log in with a password (a new login, whatever is cached), store the tokens.

    What is not given comes from the settings (``BIOPRODICT_USERNAME``, ``BIOPRODICT_PASSWORD``,
    ``password_command``, ...) or is asked: in the notebook, or on the terminal. Raises
    :class:`~bp_helper.errors.CredentialsRejected` when the server refuses the password or
    code, :class:`~bp_helper.errors.LoginRequired` when something is missing and nobody can
    be asked.
    """
    log.add_secret(password)
    log.add_secret(twofactor)
    service = _service(profile)
    service.login(username=username, password=password, twofactor=twofactor)
    return status(service.settings.profile)


def token(profile: str | None = None) -> str:
    """A valid access token of the profile: cached, refreshed, or after a login (as
    ``bp-helper token``)."""
    return _service(profile).get().access_token


def logout(profile: str | None = None) -> bool:
    """Forget the profile's tokens and remembered password; ``False``: there were none."""
    return _service(profile).logout()


def status(profile: str | None = None) -> Status:
    """Who is logged in to the profile; reads the store and settings only (no network)."""
    service = _service(profile)
    settings = service.settings
    stored: StoredToken | None
    try:
        stored = service.stored()
    except BpError:  # no client id yet: what the store holds is still worth showing
        stored = service.store.load()
    prompter = choose_prompter(settings.value("noninteractive"))
    unused = service.grant.unused_secrets
    places = secret_report(settings, stored, prompter, str(service.store.path), unused=unused)
    expires = stored.expires_at if stored is not None else math.inf
    return Status(
        profile=settings.profile,
        username=stored.username if stored is not None else None,
        fullname=stored.fullname if stored is not None else None,
        expires_at=None if math.isinf(expires) else datetime.fromtimestamp(expires, UTC),
        fresh=stored is not None and stored.fresh(settings.value("refresh_margin")),
        refresh_token=stored is not None and stored.has_refresh_token,
        token_from_environment=bool(settings.value("token")),
        secrets=places,
        store=service.store.path,
    )


def ca_bundle(profile: str | None = None) -> str | None:
    """The CA bundle the profile trusts, to pass as ``verify=`` to the calls that carry its
    token (an auth object cannot set it): ``requests.get(url, auth=BioProdictAuth(profile),
    verify=bp_helper.ca_bundle(profile))``; with httpx (which deprecates a path),
    ``verify=ssl.create_default_context(cafile=bp_helper.ca_bundle(profile))``. The
    profile's ``ca_bundle``, else ``REQUESTS_CA_BUNDLE``, else
    ``SSL_CERT_FILE`` (see :mod:`bp_helper.config.tls`); ``None``: the default CA
    certificates. Reads settings only (no network).
    """
    return trust(_service(profile).settings).path
