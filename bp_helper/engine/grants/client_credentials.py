"""The client-credentials grant: machine accounts, such as those of the prediction API's Auth0.

No person, no password, no refresh token: when the store holds no fresh token, a new grant
replaces it (the request itself is :mod:`bp_helper.engine.machine_grant`). Its token is kept
under the client id, beside whatever else the profile's store holds (a person's login from
before the profile became a machine account, say), and belongs to it only for the profile's
token URL, client and audience.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bp_helper import log
from bp_helper.config.table import CLIENT_CREDENTIALS
from bp_helper.engine.grants import Grant
from bp_helper.errors import ConfigError, TokenRequestError
from bp_helper.tokens import StoredToken

if TYPE_CHECKING:
    from bp_helper.engine.machine_grant import MachineTokenClient
    from bp_helper.engine.service import TokenService  # the service imports the grants

_NOT_USED = f"not used: the profile uses the {CLIENT_CREDENTIALS} grant"


class ClientCredentialsGrant(Grant):
    """A machine account: a client id, its secret and an audience."""

    name = CLIENT_CREDENTIALS
    unused_secrets = {  # noqa: RUF012 -- never mutated
        "password": _NOT_USED,
        "two-factor code": _NOT_USED,
        "refresh token": "none: a new client-credentials grant replaces the access token",
    }

    @property
    def audience(self) -> str:
        """The audience the grant asks for; a profile without one is a configuration error."""
        audience = self.settings.value("audience")
        if not audience:
            profile = self.settings.profile
            raise ConfigError(
                f"profile {profile!r} uses the {CLIENT_CREDENTIALS} grant but names no "
                "audience: set BIOPRODICT_AUDIENCE, or audience in "
                f"[profiles.{profile}] of {self.settings.config_path} (the prediction API's is "
                "predictions.ai.bio-prodict.nl)"
            )
        return str(audience)

    def check(self) -> None:
        """Its API hosts (and its audience): when both are missing, one error names both."""
        settings = self.settings
        hosts_given = settings.given_outside_config("hosts") or "hosts" in settings.profile_table
        if not hosts_given and not settings.value("audience"):
            raise ConfigError(
                f"profile {settings.profile!r} uses the {CLIENT_CREDENTIALS} grant but names "
                "neither its API hosts nor its audience: set BIOPRODICT_HOSTS and "
                f"BIOPRODICT_AUDIENCE, or hosts and audience in [profiles.{settings.profile}] "
                f"of {settings.config_path} (the prediction API's audience is "
                "predictions.ai.bio-prodict.nl)"
            )
        settings.value("hosts")  # without its API hosts, such a profile is unusable

    @property
    def account(self) -> str:
        return self.settings.client_id

    def owns(self, token: StoredToken) -> bool:
        return self.same_client(token) and token.audience == self.audience

    def renewable(self, token: StoredToken) -> bool:
        return True  # a new grant, whenever it is due

    def obtain(self, service: TokenService, previous: StoredToken | None) -> StoredToken:
        own = previous if previous is not None and self.owns(previous) else None
        return self._grant(service, own, keep_valid=True)

    def login(
        self,
        service: TokenService,
        username: str | None,
        password: str | None,
        twofactor: str | None,
        remember_password: bool,
    ) -> StoredToken:
        """A new grant; it takes no username or password (but docker re-storing the token
        ``get`` gave it is accepted as it is)."""
        previous = service.stored()
        if password is not None and previous and password == previous.access_token:
            return previous
        if username is not None or password is not None or remember_password:
            raise ConfigError(
                f"profile {self.settings.profile!r} uses the {CLIENT_CREDENTIALS} grant: "
                "it takes no username or password (`bp-helper login` alone gets a token)"
            )
        return self._grant(service, previous, keep_valid=False)

    def _grant(
        self, service: TokenService, previous: StoredToken | None, keep_valid: bool
    ) -> StoredToken:
        """A new grant, stored. With ``keep_valid``, a transient failure while ``previous``
        is still valid hands out ``previous`` instead."""
        try:
            token = self.client().client_credentials_grant()
        except TokenRequestError as exc:
            if keep_valid and exc.transient and previous is not None and not previous.expired():
                log.warn(f"{exc.message}; using the current token until it expires")
                service.failures.remember(self.settings.value("token_url"), exc.message)
                return previous
            raise
        service.save(token)
        service.failures.clear()
        log.debug(f"got an access token for audience {token.audience!r} by client credentials")
        return token

    def client(self) -> MachineTokenClient:
        # the network stack, imported when a token request is made (see TokenService.client)
        from bp_helper.engine.machine_grant import machine_client

        return machine_client(self.settings, self.audience)

    # -- what the commands say about it -------------------------------------------------

    def describe(self) -> str:
        hosts = ", ".join(self.settings.value("hosts"))
        return f"; grant {self.name} for audience {self.audience!r}, API hosts {hosts}"

    def no_token(self) -> tuple[str, str]:
        return "Token", "none yet (`bp-helper token` gets one; this profile needs no login)"

    def login_lines(self, who: str) -> list[str]:
        return [
            f"Profile {self.settings.profile!r} uses the {self.name} grant: it needs no login "
            "(`bp-helper token` gets a token whenever one is due).",
            f"Got a new access token for {who}.",
        ]

    def login_state(self, record: StoredToken | None) -> str:
        state = "none yet"
        if record is not None and self.owns(record):
            state = "fresh" if record.fresh(self.settings.value("refresh_margin")) else "expired"
        return (
            f"needs none ({self.name} grant); access token {state}: "
            "`bp-helper token` gets a new one when it is due"
        )

    def probe(self) -> tuple[str, tuple[float | None, float]]:
        """A real grant (its token is not kept): the client, the audience and the token URL
        each checked by the server that matters."""
        client = self.client()
        client.client_credentials_grant()
        return (
            f"{client.token_url} granted client {client.client.client_id!r} a token for "
            f"audience {client.audience!r} (a real client-credentials grant); verified with "
            f"{client.trust.describe()}",
            (client.server_date, client.local_time),
        )


GRANT = ClientCredentialsGrant
