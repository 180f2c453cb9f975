"""The client-credentials grant: machine accounts, such as those of the prediction API's Auth0.

``POST <token URL>``, form-encoded, with exactly ``grant_type=client_credentials``,
``client_id``, ``client_secret`` and ``audience``: the client authenticates in the body, as
Auth0's examples do, with no Basic header. The answer carries no refresh token, so a new grant
replaces the token shortly before it expires. Built on ``requests_oauthlib.OAuth2Session``
with ``oauthlib``'s ``BackendApplicationClient``; the rest (status checks before oauthlib
parses, retries, ``expires_at`` on receipt, scrubbing) is the shared request path of
:class:`~bp_helper.engine.client.TokenClient`. Imported only when such a grant is made.
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

import requests
from oauthlib.oauth2 import BackendApplicationClient, Client
from requests_oauthlib import OAuth2Session

from bp_helper import log
from bp_helper.config.settings import Settings
from bp_helper.config.table import CLIENT_CREDENTIALS
from bp_helper.config.tls import Trust, trust
from bp_helper.engine.answers import Refusal, http_date
from bp_helper.engine.client import ClientCredentials, TokenClient
from bp_helper.errors import AudienceRejected, ClientRejected
from bp_helper.secrets import sources as credentials
from bp_helper.tokens import StoredToken

# The fields of the request, exactly: nothing else is sent.
FIELDS = ("grant_type", "client_id", "client_secret", "audience")
# What Auth0 says when the audience is the problem rather than the client.
_AUDIENCE_WORDS = ("audience", "service not found", "not authorized to access")


class MachineTokenClient(TokenClient):
    """One token URL, one client, one audience; raises only ``TokenRequestError``s."""

    def __init__(
        self,
        token_url: str,
        client: ClientCredentials,
        audience: str,
        *,
        timeout: float,
        trust: Trust | None = None,
    ) -> None:
        super().__init__(token_url, client, timeout=timeout, trust=trust)
        self.audience = audience
        # The Date header and local time of the last answer, for doctor's clock check.
        self.server_date: float | None = None
        self.local_time = 0.0

    def client_credentials_grant(self) -> StoredToken:
        """A new access token for the client and audience; there is never a refresh token."""
        log.debug(
            f"POST {self.token_url} grant_type=client_credentials fields={','.join(FIELDS)} "
            f"(client_secret redacted), client {self.client.client_id!r}, "
            f"audience {self.audience!r}"
        )
        sent = 0.0

        def fetch(session: OAuth2Session) -> dict[str, Any]:
            nonlocal sent
            sent = time.time()
            token: dict[str, Any] = session.fetch_token(
                self.token_url,
                include_client_id=True,  # in the body; no Basic header
                client_secret=self.client.client_secret,
                audience=self.audience,
                timeout=self.timeout,
                verify=self.verify,
            )
            return token

        answer = self._call(fetch, "access_token_response", grant=CLIENT_CREDENTIALS)
        self.local_time = (sent + self.local_time) / 2  # the middle of the answered request
        token = self._stored(answer, username=self.client.client_id, twofactor=False)
        if answer.get("refresh_token"):
            log.debug("the token server sent a refresh token with client credentials: not kept")
        return token._replace(
            username=self.client.client_id, audience=self.audience, refresh_token=None
        )

    # -- the shared request path's hooks ------------------------------------------------

    def _oauth_client(self) -> Client:
        return BackendApplicationClient(client_id=self.client.client_id)

    def _check_response(self, response: requests.Response, grant: str) -> requests.Response:
        self.server_date = http_date(response.headers.get("Date"))
        self.local_time = time.time()
        return super()._check_response(response, grant)

    def _refusal(
        self, response: requests.Response, body: dict[str, Any] | None, grant: str
    ) -> NoReturn:
        """Auth0's refusals: ``access_denied`` for a bad client or an audience it may not get."""
        refusal = Refusal(response, body)
        status, description, said = refusal.status, refusal.description, refusal.said
        about_audience = self.audience in description or any(
            word in description.lower() for word in _AUDIENCE_WORDS
        )
        if refusal.error == "access_denied" and about_audience:
            raise AudienceRejected(
                f"the token server grants client {self.client.client_id!r} no token for "
                f"audience {self.audience!r} (HTTP {status}, {said}); check `audience` "
                "(BIOPRODICT_AUDIENCE or audience in the profile)"
            )
        if status == 401 or refusal.error == "access_denied" or refusal.rejects_client(grant):
            raise ClientRejected(
                f"the token server rejected client id {self.client.client_id!r} (HTTP {status}"
                f"{', ' + said if body else ''}); check the client id and client secret of "
                "this machine account"
            )
        super()._refusal(response, body, grant)


def machine_client(settings: Settings, audience: str) -> MachineTokenClient:
    """The client of a client-credentials profile, for ``audience``."""
    return MachineTokenClient(
        settings.value("token_url"),
        ClientCredentials(settings.client_id, credentials.client_secret(settings).value),
        audience,
        timeout=settings.value("timeout"),
        trust=trust(settings),
    )
