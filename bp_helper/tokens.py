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
from typing import Any, NamedTuple

from bp_helper.basics import TOKEN_FORMAT, check_token_file, due_at, token_values
from bp_helper.basics import fresh as fresh_for
from bp_helper.basics import sendable as sendable

FORMAT_VERSION = TOKEN_FORMAT


class StoredToken(NamedTuple):
    """What a profile keeps between runs. ``expires_at`` is persisted, never recomputed."""

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
        now = time.time() if now is None else now
        return fresh_for(self.access_token, self.expires_at, self.obtained_at, margin, now)

    def due_at(self, margin: float) -> float:
        """When a refresh is due (see :func:`bp_helper.basics.due_at`)."""
        return due_at(self.expires_at, self.obtained_at, margin)

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
        return cls(**token_values(data))  # the checks are shared with the cached path


def parse_file(raw: bytes) -> dict[str, Any]:
    """The JSON object of a store file of this version; ``ValueError`` otherwise."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # absurdly deep nesting
        raise ValueError("it is not valid JSON") from None
    check_token_file(data)
    return data  # type: ignore[no-any-return]
