"""The sandbox's Auth0 stand-in: a client-credentials token endpoint and a prediction-style API.

Modelled on the Auth0 tenant in front of Bio-Prodict's prediction API: ``POST /oauth/token``
with ``grant_type=client_credentials``, ``client_id``, ``client_secret`` and ``audience``, as
JSON (the public examples) or a form body, the client secret in the body or as Basic; answers
``{"access_token", "expires_in": 86400, "token_type": "Bearer"}`` and never a refresh token.
A bad client gets 401 ``access_denied``/``Unauthorized``; an audience that does not exist, or
that the client may not have, a 403 ``access_denied`` naming it. The protected resource under
``/prediction/`` takes only this issuer's tokens for the prediction audience. Requests that
are not exactly the documented ones get ``invalid_request`` with a ``sandbox:`` description.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from bp_helper.testing.replies import (
    NO_STORE,
    JwtCodec,
    Reply,
    json_reply,
    oauth_error,
    parse_basic,
)

AUTH0_TOKEN_PATH = "/oauth/token"
PREDICTION_PATH = "/prediction/"
PREDICTION_AUDIENCE = "predictions.ai.bio-prodict.nl"
MACHINE_TOKEN_LIFETIME = 86400  # Auth0's default for machine-to-machine tokens: 24 hours
_FIELDS = frozenset({"grant_type", "client_id", "client_secret", "audience"})
_MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class MachineClient:
    """A machine-to-machine application of the sandbox's Auth0 tenant."""

    client_id: str
    secret: str
    audiences: tuple[str, ...]  # the APIs this client has a grant for


DEMO_MACHINE_CLIENTS: dict[str, MachineClient] = {
    client.client_id: client
    for client in (
        MachineClient("bp-predict", "predict-secret", (PREDICTION_AUDIENCE,)),
        MachineClient("bp-nogrant", "nogrant-secret", ()),  # exists, but may use no API
    )
}


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _denied(status: int, description: str) -> Reply:
    return oauth_error(status, "access_denied", description, NO_STORE)


def _invalid_request(problem: str) -> Reply:
    return oauth_error(400, "invalid_request", f"sandbox: {problem}")


class ClientCredentialsIssuer:
    """Issues and checks machine tokens; state is guarded by the sandbox's one lock."""

    def __init__(
        self,
        lock: threading.Lock,
        *,
        clock: Callable[[], float] = time.time,
        access_token_prefix: str = "",
    ) -> None:
        self.codec = JwtCodec()  # another signer than the 3DM server's: tokens do not mix
        self.clients: dict[str, MachineClient] = dict(DEMO_MACHINE_CLIENTS)
        self.audiences = {PREDICTION_AUDIENCE}
        self.access_token_prefix = access_token_prefix
        self._lock = lock
        self._clock = clock
        self._live: set[str] = set()  # jtis of valid tokens
        self._expired: set[str] = set()  # jtis forced expired

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._expired |= self._live

    def revoke_access_tokens(self) -> None:
        with self._lock:
            self._live.clear()
            self._expired.clear()

    # -- token endpoint ----------------------------------------------------------------------

    def token_endpoint(
        self, headers: Mapping[str, str], body: bytes, lifetime: int, expires_in: int | None = None
    ) -> Reply:
        """Answer a POST to ``/oauth/token`` (``headers`` have lower-cased names)."""
        fields = parse_body(headers.get("content-type", ""), body)
        if isinstance(fields, str):
            return _invalid_request(fields)
        grant_type = fields.get("grant_type")
        if not grant_type:
            return oauth_error(400, "invalid_request", "Missing required parameter: grant_type")
        unexpected = sorted(fields.keys() - _FIELDS)
        if unexpected:
            return _invalid_request(f"unexpected field(s): {', '.join(unexpected)}")
        basic = parse_basic(headers.get("authorization"))
        if basic is not None and "client_secret" in fields:
            return _invalid_request("the client authenticated twice (Basic and client_secret)")
        if basic is not None and fields.get("client_id", basic[0]) != basic[0]:
            return _invalid_request("form field client_id differs from the Basic header")
        client_id, secret = basic or (fields.get("client_id"), fields.get("client_secret"))
        client = self.clients.get(client_id or "")
        if client is None or secret is None or not _same(client.secret, secret):
            return _denied(401, "Unauthorized")
        if grant_type != "client_credentials":
            return oauth_error(
                403, "unauthorized_client", f"Grant type '{grant_type}' not allowed for the client."
            )
        audience = fields.get("audience")
        if not audience:
            return _denied(
                403,
                "No audience parameter was provided, and no default audience has been configured",
            )
        if audience not in self.audiences:
            return _denied(403, f"Service not found: {audience}")
        if audience not in client.audiences:
            return _denied(
                403,
                f'Client is not authorized to access "{audience}". You need to create a '
                '"client-grant" associated to this API.',
            )
        return self._issue(
            client, audience, lifetime, lifetime if expires_in is None else expires_in
        )

    def _issue(self, client: MachineClient, audience: str, lifetime: int, expires_in: int) -> Reply:
        now = int(self._clock())
        jti = str(uuid.uuid4())
        claims: dict[str, object] = {
            "iss": "https://sandbox.auth0.example/",
            "sub": f"{client.client_id}@clients",
            "aud": audience,
            "iat": now,
            "exp": now + lifetime,
            "azp": client.client_id,
            "gty": "client-credentials",
            "jti": jti,
        }
        with self._lock:
            self._live.add(jti)
        answer = {
            "access_token": self.access_token_prefix + self.codec.encode(claims),
            "expires_in": expires_in,
            "token_type": "Bearer",
        }
        return json_reply(200, answer, NO_STORE)

    # -- protected resource ------------------------------------------------------------------

    def prediction_resource(self, method: str, path: str, authorization: str | None) -> Reply:
        """Answer a request under ``/prediction/``: a Bearer token of this issuer only."""
        scheme, _, param = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not param.strip():
            return _unauthorized(None, "")
        token = param.strip()
        prefix = self.access_token_prefix
        claims = self.codec.decode(token[len(prefix) :]) if token.startswith(prefix) else None
        jti = claims.get("jti") if claims is not None else None
        with self._lock:
            live = isinstance(jti, str) and jti in self._live
            forced_expired = isinstance(jti, str) and jti in self._expired
        if claims is None or not live:
            return _unauthorized("invalid_token", "Invalid token")
        if claims.get("aud") != PREDICTION_AUDIENCE:
            return _unauthorized("invalid_token", "Invalid audience")
        exp = claims.get("exp")
        if forced_expired or not isinstance(exp, int) or exp <= self._clock():
            return _unauthorized("invalid_token", "Token expired")
        return json_reply(
            200,
            {
                "path": path,
                "method": method,
                "client_id": claims.get("azp"),
                "audience": claims.get("aud"),
            },
        )


def parse_body(content_type: str, body: bytes) -> dict[str, str] | str:
    """The fields of a JSON or form body, or what is wrong with it."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in _MEDIA_TYPES:
        return f"Content-Type must be {' or '.join(_MEDIA_TYPES)}, not {media_type!r}"
    if media_type == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return "the body is not valid JSON"
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return "the JSON body must be an object of strings"
        return dict(data)
    if not body.isascii():
        return "the body is not ASCII: form values must be percent-encoded"
    form = parse_qs(body.decode("ascii"), keep_blank_values=True)
    repeated = sorted(name for name, values in form.items() if len(values) > 1)
    if repeated:
        return f"repeated field(s): {', '.join(repeated)}"
    return {name: values[0] for name, values in form.items()}


def _unauthorized(error: str | None, description: str) -> Reply:
    """401 with a Bearer challenge (RFC 6750: no error code when no token was sent)."""
    if error is None:
        return json_reply(401, {"message": "Unauthorized"}, (("WWW-Authenticate", "Bearer"),))
    challenge = f'Bearer error="{error}", error_description="{description}"'
    body = {"error": error, "error_description": description}
    return json_reply(401, body, (("WWW-Authenticate", challenge),))
