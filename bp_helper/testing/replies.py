"""The sandbox's answers: JSON, OAuth and Spring error bodies, HTML pages, and JWT-shaped tokens."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

JSON_TYPE = "application/json;charset=UTF-8"


_B64URL = re.compile(r"[A-Za-z0-9_-]*")
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, headers (besides Content-Length/Connection) and body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def json_reply(status: int, obj: object, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, (("Content-Type", JSON_TYPE), *headers), body)


def oauth_error(
    status: int, error: str, description: str, headers: tuple[tuple[str, str], ...] = ()
) -> Reply:
    """Spring Security OAuth2's error body: {"error": ..., "error_description": ...}."""
    return json_reply(status, {"error": error, "error_description": description}, headers)


def spring_error(status: int, error: str, message: str, path: str) -> Reply:
    """Spring Boot's /error body, which is not OAuth JSON."""
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    body = {"timestamp": stamp, "status": status, "error": error, "message": message, "path": path}
    return json_reply(status, body)


def html_reply(status: int, html: str) -> Reply:
    return Reply(status, (("Content-Type", "text/html;charset=UTF-8"),), html.encode("utf-8"))


def parse_basic(value: str | None) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic`` header value, or None."""
    scheme, _, param = (value or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(param.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JwtCodec:
    """HS256 JWTs signed with a random per-sandbox key."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def _sign(self, signing_input: str) -> str:
        return _b64url(hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest())

    def encode(self, claims: Mapping[str, object]) -> str:
        header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return f"{header}.{payload}.{self._sign(f'{header}.{payload}')}"

    def decode(self, token: str) -> dict[str, object] | None:
        """The claims of a token this codec signed, or None (garbage, tampered, not JSON)."""
        parts = token.split(".")
        if len(parts) != 3 or not token.isascii():
            return None
        expected = self._sign(f"{parts[0]}.{parts[1]}")
        if not hmac.compare_digest(expected, parts[2]):
            return None
        try:
            claims = json.loads(_unb64url(parts[1]))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) else None
