"""How commands print accounts (times: :mod:`bp_helper.times`)."""

from __future__ import annotations

from bp_helper.tokens import StoredToken


def describe_user(token: StoredToken) -> str:
    if token.audience is not None:
        return f"machine client {token.username} (audience {token.audience})"
    return f"{token.fullname} ({token.username})" if token.fullname else token.username


def refresh_note(token: StoredToken) -> str:
    if token.audience is not None:
        return "a new client-credentials grant replaces it shortly before then"
    if token.has_refresh_token:
        return "it is refreshed automatically"
    return "the client gets no refresh token, so the password is asked again after that"
