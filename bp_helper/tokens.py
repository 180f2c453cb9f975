"""What a profile keeps of a token, and what may be sent: the bottom of the token layers.

:class:`StoredToken` is one account's record in the token store (see
:mod:`bp_helper.engine.store`, which reads and writes the files); :func:`sendable` says
whether an access token can go into a header or a line as it is. Everything from the
settings to the front-ends may import this module; it imports only leaf helpers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from bp_helper.lean import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

FORMAT_VERSION = 1


class StoredToken(Record):
    """What a profile keeps between runs. ``expires_at`` is persisted, never recomputed.

    A :class:`~bp_helper.lean.Record` (a NamedTuple) rather than a dataclass: importing
    ``dataclasses`` or ``typing`` costs the cached path several milliseconds.
    """

    access_token: str
    expires_at: float
    obtained_at: float
    username: str
    token_url: str
    client_id: str
    refresh_token: str | None = None
    token_type: str = "bearer"
    fullname: str | None = None
    userid: int | str | None = None
    scope: str | None = None
    twofactor: bool = False  # the last password login needed a two-factor code
    # The name the password grant was made with: the account's key, and what a request's
    # username is matched against. ``username`` is what the server calls the user (it may
    # canonicalise it: "Alice", an e-mail address), shown but never matched.
    login: str = ""
    audience: str | None = None  # a client-credentials grant's audience (None: password grant)
    # Where secrets other than the access token are kept (see
    # bp_helper.secrets.profile_keyring): the password only after
    # `login --remember-password`, the refresh token with refresh_token_storage = "keyring"
    # (then refresh_token is None in the file).
    password_in_keyring: bool = False
    refresh_token_in_keyring: bool = False
    extra: dict[str, Any] = {}  # noqa: RUF012 -- never mutated

    @property
    def account(self) -> str:
        """The name this account is kept and matched under (older files have no ``login``)."""
        return self.login or self.username

    def fresh(self, margin: float, now: float | None = None) -> bool:
        """Usable for at least ``margin`` more seconds (at most half the token's lifetime)."""
        if not self.access_token:
            return False
        return (time.time() if now is None else now) < self.due_at(margin)

    def due_at(self, margin: float) -> float:
        """When a refresh is due: ``margin`` seconds before expiry, at most half the lifetime."""
        lifetime = max(self.expires_at - self.obtained_at, 0.0)
        return self.expires_at - min(margin, lifetime / 2)

    def expired(self, now: float | None = None) -> bool:
        return not self.access_token or (time.time() if now is None else now) >= self.expires_at

    def without_access_token(self) -> StoredToken:
        return self._replace(access_token="", expires_at=0.0)

    def without_refresh_token(self) -> StoredToken:
        return self._replace(refresh_token=None)

    @property
    def has_refresh_token(self) -> bool:
        """A refresh token is kept, in this record or in the OS keyring."""
        return self.refresh_token is not None or self.refresh_token_in_keyring

    def to_json(self, others: Sequence[StoredToken] = ()) -> bytes:
        """The store file with this record as the default account and ``others`` beside it."""
        data: dict[str, Any] = {"version": FORMAT_VERSION, **self._asdict()}
        if others:
            data["accounts"] = {other.account: other._asdict() for other in others}
        return json.dumps(data, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> StoredToken:
        """Parse a store file (its default account); ``ValueError`` says what is wrong."""
        return cls.from_dict(parse_file(raw))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredToken:
        """One account's record; ``ValueError`` says what is wrong with it."""
        kinds: dict[str, tuple[type, ...]] = {
            "access_token": (str,),
            "expires_at": (int, float),
            "obtained_at": (int, float),
            "username": (str,),
            "token_url": (str,),
            "client_id": (str,),
            "refresh_token": (str, type(None)),
            "token_type": (str,),
            "fullname": (str, type(None)),
            "userid": (int, str, type(None)),
            "scope": (str, type(None)),
            "twofactor": (bool,),
            "login": (str,),
            "audience": (str, type(None)),
            "password_in_keyring": (bool,),
            "refresh_token_in_keyring": (bool,),
            "extra": (dict,),
        }
        values: dict[str, Any] = {}
        for key, types in kinds.items():
            if key not in data:
                continue
            if not isinstance(data[key], types) or isinstance(data[key], bool) is not (
                bool in types
            ):
                raise ValueError(f"its field {key!r} has the wrong type")
            values[key] = data[key]
        try:
            return cls(**values)
        except TypeError:
            raise ValueError("it lacks required fields") from None


def parse_file(raw: bytes) -> dict[str, Any]:
    """The JSON object of a store file of this version; ``ValueError`` otherwise."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # absurdly deep nesting
        raise ValueError("it is not valid JSON") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ValueError("it is not a bp-helper token file of this version")
    if not isinstance(data.get("accounts", {}), dict):
        raise ValueError("its field 'accounts' has the wrong type")
    return data


def sendable(access_token: str) -> bool:
    """Can ``access_token`` go into a header, a protocol line or a config file as it is?

    Printable ASCII without spaces (RFC 6750's b64token is a subset): nothing that could
    split a line, smuggle a header, or make an HTTP library refuse it, quoting it in full.
    """
    return (
        bool(access_token)
        and access_token.isascii()
        and access_token.isprintable()
        and (" " not in access_token)
    )
