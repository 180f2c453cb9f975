"""How commands print times and accounts: shared by the commands and the integrations."""

from __future__ import annotations

import math
import time

from bp_helper.engine.store import StoredToken


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


def format_time(epoch: float) -> str:
    if math.isinf(epoch):
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))


def relative(epoch: float) -> str:
    seconds = int(epoch - time.time())
    if seconds <= 0:
        return "expired"
    hours, rest = divmod(seconds, 3600)
    return f"in {hours} h {rest // 60} min" if hours else f"in {rest // 60} min {rest % 60} s"
