"""The sandbox's accounts and token logic: demo clients and users, JWT-shaped tokens, the token
endpoint and the protected-resource check.

Modelled on Spring Security OAuth2 with a JWT token store, as the real Bio-Prodict server runs
it, plus strict checks that the client sends exactly the documented request (violations are
answered with ``invalid_request`` and a description starting with ``sandbox:``).
"""

from __future__ import annotations

import hmac
import re
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
    spring_error,
)


@dataclass(frozen=True)
class DemoClient:
    """An OAuth client registered with the sandbox (authenticated by the Basic header)."""

    client_id: str
    secret: str
    refresh: bool  # whether this client is allowed the refresh_token grant


@dataclass(frozen=True)
class DemoUser:
    """A 3DM account of the sandbox."""

    username: str
    password: str
    fullname: str
    userid: int
    twofactor: str | None = None  # the code the password grant must carry, if any
    locked: bool = False


DEMO_CLIENTS: dict[str, DemoClient] = {
    client.client_id: client
    for client in (
        DemoClient("bp-demo", "demo-secret", refresh=True),
        DemoClient("bp-norefresh", "norefresh-secret", refresh=False),
        DemoClient("bp-public", "", refresh=True),
    )
}

DEMO_USERS: dict[str, DemoUser] = {
    user.username: user
    for user in (
        # Every character that breaks naive form encoding: & = + % space # and non-ASCII.
        DemoUser("alice", "s3cr&t= +%#Äpfel", "Alice Example", 1001),
        DemoUser("bob", "bob-password", "Bob Example", 1002, twofactor="246810"),
        DemoUser("carol", "carol-password", "Carol Example", 1003, locked=True),
    )
}


TOKEN_PATH = "/oauth/oauth/token"
_FORM_TYPE = "application/x-www-form-urlencoded"
_PASSWORD_FIELDS = frozenset({"grant_type", "username", "password", "client_id", "client_secret"})
_REFRESH_FIELDS = frozenset({"grant_type", "refresh_token"})
_CLIENT_FIELDS = ("client_id", "client_secret")


@dataclass(frozen=True)
class _RefreshGrant:
    jti: str
    client_id: str
    username: str
    exp: int


def _client_unauthorized(bearer: bool) -> Reply:
    if bearer:  # django-oauth-toolkit: an OAuth error with a Bearer challenge
        challenge = ("WWW-Authenticate", 'Bearer error="invalid_client"')
        return json_reply(401, {"error": "invalid_client"}, (challenge,))
    base = spring_error(401, "Unauthorized", "Bad credentials", TOKEN_PATH)
    return Reply(
        401, (*base.headers, ("WWW-Authenticate", 'Basic realm="oauth2/client"')), base.body
    )


def _invalid_request(problem: str) -> Reply:
    return oauth_error(400, "invalid_request", f"sandbox: {problem}")


def _invalid_grant(description: str) -> Reply:
    return oauth_error(400, "invalid_grant", description)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class TokenIssuer:
    """Issues and checks tokens; all state is guarded by the sandbox's one lock."""

    def __init__(
        self,
        lock: threading.Lock,
        *,
        refresh_lifetime: int,
        rotate_refresh_tokens: bool,
        clock: Callable[[], float] = time.time,
        access_token_prefix: str = "",
        refresh_token_prefix: str = "",
        bearer_client_errors: bool = False,
    ) -> None:
        self.codec = JwtCodec()
        self.refresh_lifetime = refresh_lifetime
        self.rotate_refresh_tokens = rotate_refresh_tokens
        # A bad client gets Spring's Basic challenge, or (True) django-oauth-toolkit's answer.
        self.bearer_client_errors = bearer_client_errors
        # Accounts of this sandbox: the demo ones, plus any a test adds.
        self.clients: dict[str, DemoClient] = dict(DEMO_CLIENTS)
        self.users: dict[str, DemoUser] = dict(DEMO_USERS)
        # Like servers that look users up case-insensitively and answer with the stored
        # spelling ("alice" logs in, the answer says "Alice").
        self.usernames_ignore_case = False
        # Markers that make this sandbox's tokens recognisable (leak tests look for them).
        self.access_token_prefix = _token_prefix(access_token_prefix)
        self.refresh_token_prefix = _token_prefix(refresh_token_prefix)
        self._lock = lock
        self._clock = clock
        self._live_access: set[str] = set()  # jtis of valid access tokens
        self._expired_access: set[str] = set()  # jtis forced expired
        self._refresh: dict[str, _RefreshGrant] = {}  # jti -> grant

    # -- administrative ----------------------------------------------------------------------

    def _decode(self, token: str, prefix: str) -> dict[str, object] | None:
        """The claims of a token this sandbox issued with ``prefix``, or None."""
        if not token.startswith(prefix):
            return None
        return self.codec.decode(token[len(prefix) :])

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._expired_access |= self._live_access

    def revoke_access_tokens(self) -> None:
        with self._lock:
            self._live_access.clear()
            self._expired_access.clear()

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh.clear()

    # -- token endpoint ----------------------------------------------------------------------

    def token_endpoint(
        self, headers: Mapping[str, str], body: bytes, lifetime: int, expires_in: int | None = None
    ) -> Reply:
        """Answer a POST to the token endpoint (``headers`` have lower-cased names)."""
        creds = parse_basic(headers.get("authorization"))
        client = self.clients.get(creds[0]) if creds else None
        if creds is None or client is None or not _same(client.secret, creds[1]):
            return _client_unauthorized(self.bearer_client_errors)
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != _FORM_TYPE:
            return _invalid_request(f"Content-Type must be {_FORM_TYPE}, not {media_type!r}")
        if not body.isascii():
            return _invalid_request("the body is not ASCII: form values must be percent-encoded")
        form = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=False)
        repeated = sorted(name for name, values in form.items() if len(values) > 1)
        if repeated:
            return _invalid_request(f"repeated field(s): {', '.join(repeated)}")
        fields = {name: values[0] for name, values in form.items()}
        grant_type = fields.get("grant_type")
        if not grant_type:
            return oauth_error(400, "invalid_request", "Missing grant type")
        if grant_type == "password":
            problem = _check_fields(fields, _PASSWORD_FIELDS, {"twofactor"}, client)
            if problem is None and fields.get("twofactor") == "":
                problem = "empty twofactor field (leave it out when there is no code)"
        elif grant_type == "refresh_token":
            problem = _check_fields(fields, _REFRESH_FIELDS, set(_CLIENT_FIELDS), client)
        else:
            return oauth_error(
                400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}"
            )
        if problem is not None:
            return _invalid_request(problem)
        lifetime_answer = lifetime - 1 if expires_in is None else expires_in
        if grant_type == "password":
            return self._password_grant(client, fields, lifetime, lifetime_answer)
        return self._refresh_grant(client, fields["refresh_token"], lifetime, lifetime_answer)

    def _password_grant(
        self, client: DemoClient, fields: Mapping[str, str], lifetime: int, expires_in: int
    ) -> Reply:
        user = self.users.get(fields["username"])
        if user is None and self.usernames_ignore_case:
            wanted = fields["username"].casefold()
            user = next((u for n, u in self.users.items() if n.casefold() == wanted), None)
        if user is None:
            return _invalid_grant("Bad credentials")
        # Spring checks the account state before the password (DefaultPreAuthenticationChecks).
        if user.locked:
            return _invalid_grant("User account is locked")
        if not _same(user.password, fields["password"]):
            return _invalid_grant("Bad credentials")
        if user.twofactor is not None:
            code = fields.get("twofactor")
            if code is None:
                return _invalid_grant("Two-factor authentication code required")
            if not _same(user.twofactor, code):
                return _invalid_grant("Invalid two-factor authentication code")
        return self._issue(client, user, lifetime, expires_in, None)

    def _refresh_grant(
        self, client: DemoClient, token: str, lifetime: int, expires_in: int
    ) -> Reply:
        if not client.refresh:
            return oauth_error(400, "invalid_client", "Unauthorized grant type: refresh_token")
        claims = self._decode(token, self.refresh_token_prefix)
        if claims is None:
            return _invalid_token_at_endpoint("Cannot convert access token to JSON")
        if "ati" not in claims:
            return _invalid_token_at_endpoint("Encoded token is not a refresh token")
        jti = claims.get("jti")
        now = int(self._clock())
        with self._lock:
            grant = self._refresh.get(jti) if isinstance(jti, str) else None
            valid = grant is not None and grant.client_id == client.client_id and grant.exp > now
            if grant is not None and valid and self.rotate_refresh_tokens:
                del self._refresh[grant.jti]  # check and consume atomically
        user = self.users.get(grant.username) if grant is not None else None
        if not valid or user is None:
            # Spring really echoes the token here; clients must scrub it.
            return _invalid_grant(f"Invalid refresh token: {token}")
        return self._issue(client, user, lifetime, expires_in, grant)

    def _issue(
        self,
        client: DemoClient,
        user: DemoUser,
        lifetime: int,
        expires_in: int,
        previous: _RefreshGrant | None,
    ) -> Reply:
        now = int(self._clock())
        access_jti = str(uuid.uuid4())
        claims: dict[str, object] = {
            "exp": now + lifetime,
            "user_name": user.username,
            "authorities": ["ROLE_USER"],
            "jti": access_jti,
            "client_id": client.client_id,
            "scope": ["read", "write"],
        }
        answer: dict[str, object] = {
            "access_token": self.access_token_prefix + self.codec.encode(claims),
            "token_type": "bearer",
        }
        with self._lock:
            self._live_access.add(access_jti)
            if client.refresh:
                if previous is not None and not self.rotate_refresh_tokens:
                    # Spring re-encodes a reused refresh token with the new "ati": same jti and
                    # expiry, but a new string.
                    grant = previous
                else:
                    grant = _RefreshGrant(
                        str(uuid.uuid4()),
                        client.client_id,
                        user.username,
                        now + self.refresh_lifetime,
                    )
                self._refresh[grant.jti] = grant
                refresh_claims = {**claims, "exp": grant.exp, "jti": grant.jti, "ati": access_jti}
                answer["refresh_token"] = self.refresh_token_prefix + self.codec.encode(
                    refresh_claims
                )
        answer.update(
            expires_in=expires_in,
            scope="read write",
            fullname=user.fullname,
            userid=user.userid,
            username=user.username,
            jti=access_jti,
        )
        return json_reply(200, answer, NO_STORE)

    # -- protected resource ------------------------------------------------------------------

    def protected_resource(
        self, method: str, path: str, authorization: str | None, accept_basic: bool
    ) -> Reply:
        """Answer a request to /api/...: a Bearer token (or, if allowed, Basic user:token)."""
        scheme, _, param = (authorization or "").strip().partition(" ")
        token: str | None = None
        basic_user: str | None = None
        if scheme.lower() == "bearer" and param.strip():
            token = param.strip()
        elif accept_basic and scheme.lower() == "basic":
            creds = parse_basic(authorization)
            if creds is not None:
                basic_user, token = creds
        if token is None:
            return _resource_unauthorized(
                "unauthorized", "Full authentication is required to access this resource"
            )
        claims = self._decode(token, self.access_token_prefix)
        jti = claims.get("jti") if claims is not None else None
        with self._lock:
            live = isinstance(jti, str) and jti in self._live_access
            forced_expired = isinstance(jti, str) and jti in self._expired_access
        username = claims.get("user_name") if claims is not None else None
        user = self.users.get(username) if isinstance(username, str) else None
        if (
            claims is None
            or "ati" in claims
            or not live
            or user is None
            or (basic_user is not None and basic_user != user.username)
        ):
            return _resource_unauthorized("invalid_token", f"Invalid access token: {token}")
        exp = claims.get("exp")
        if forced_expired or not isinstance(exp, int) or exp <= self._clock():
            return _resource_unauthorized("invalid_token", f"Access token expired: {token}")
        return json_reply(
            200,
            {
                "path": path,
                "method": method,
                "username": user.username,
                "fullname": user.fullname,
                "client_id": claims.get("client_id"),
            },
        )


def _token_prefix(prefix: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", prefix):
        raise ValueError("a token prefix may hold only letters, digits, '-' and '_'")
    return prefix


def _check_fields(
    fields: Mapping[str, str], required: frozenset[str], optional: set[str], client: DemoClient
) -> str | None:
    missing = sorted(required - fields.keys())
    if missing:
        return f"missing field(s): {', '.join(missing)}"
    unexpected = sorted(fields.keys() - required - optional)
    if unexpected:
        return f"unexpected field(s): {', '.join(unexpected)}"
    basic = {"client_id": client.client_id, "client_secret": client.secret}
    for name in _CLIENT_FIELDS:
        if name in fields and not _same(fields[name], basic[name]):
            return f"form field {name} differs from the Authorization: Basic header"
    return None


def _invalid_token_at_endpoint(description: str) -> Reply:
    challenge = f'Bearer error="invalid_token", error_description="{description}"'
    return oauth_error(401, "invalid_token", description, (("WWW-Authenticate", challenge),))


def _resource_unauthorized(error: str, description: str) -> Reply:
    challenge = (
        f'Bearer realm="oauth2-resource", error="{error}", error_description="{description}"'
    )
    return oauth_error(401, error, description, (("WWW-Authenticate", challenge),))
