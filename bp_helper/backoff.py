"""Failed-login backoff: after the server refuses a login, do not ask again at once.

Tools call credential helpers in bursts (git asks again after a failure, scripts loop). When
the server refuses a password login, the refusal is written next to the token store
(``<profile>.refused``, 0600) with its reason. For ``REFUSAL_WINDOW`` seconds after that,
an automatic login of the same user (``token``, the protocol front-ends, the Python auth)
fails at once with that reason instead of prompting or sending the same password again,
which also keeps a wrong ``BIOPRODICT_PASSWORD`` from locking the account on the server.
An explicit ``bp-helper login`` always tries, and a successful login clears the record.

A token request that failed for a reason that says nothing about the credentials (the
server is down, slow or answers garbage) is written to ``<profile>.failed`` by the caller
that made it, before it lets go of the profile's lock. Callers that were already waiting
for that lock share the failure instead of repeating it one after the other: a burst of
callers during an outage makes one retry cycle, and nobody waits out the lock timeout.
Callers that start later try again themselves.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from . import log
from .errors import BpError
from .files import atomic_write, ensure_private_dir, read_private_file, remove_leftovers

REFUSAL_WINDOW = 30.0  # seconds


class LoginRefusedRecently(BpError):
    """A login of this user was refused moments ago; not trying again yet."""


class RefusalRecord:
    """The last refused login of one profile, in ``<tokens dir>/<profile>.refused``."""

    def __init__(self, directory: Path, profile: str) -> None:
        self.path = directory / f"{profile}.refused"

    def remember(self, username: str, reason: str) -> None:
        data = {"username": username, "refused_at": time.time(), "reason": reason}
        try:
            ensure_private_dir(self.path.parent)
            remove_leftovers(self.path)  # written only under the profile's lock
            atomic_write(self.path, json.dumps(data).encode())
        except BpError as exc:  # the backoff is a courtesy: never fatal
            log.warn(f"cannot record the refused login: {exc.message}")

    def check(self, username: str, hint: str, now: float | None = None) -> None:
        """Raise :class:`LoginRefusedRecently` if ``username`` was refused within the window."""
        try:
            raw = read_private_file(self.path)
            data = json.loads(raw) if raw is not None else None
        except (ValueError, UnicodeDecodeError) as exc:
            log.warn(f"ignoring {self.path}: {exc}")
            return
        if not isinstance(data, dict) or data.get("username") != username:
            return
        refused_at = data.get("refused_at")
        if isinstance(refused_at, bool) or not isinstance(refused_at, int | float):
            return
        ago = (time.time() if now is None else now) - refused_at
        if not 0 <= ago < REFUSAL_WINDOW:
            return
        reason = log.scrub(str(data.get("reason", "")), 160) or "refused"
        raise LoginRefusedRecently(
            f"the last login as {username!r} was refused {ago:.0f} s ago ({reason}); "
            f"not trying again for {REFUSAL_WINDOW - ago:.0f} s: {hint}"
        )

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


class FailedRequestRecord:
    """The last token request of one profile that failed for everyone (``<profile>.failed``)."""

    def __init__(self, directory: Path, profile: str) -> None:
        self.path = directory / f"{profile}.failed"

    def remember(self, token_url: str, message: str) -> None:
        data = {"token_url": token_url, "failed_at": time.time(), "message": message}
        try:
            ensure_private_dir(self.path.parent)
            remove_leftovers(self.path)  # written only under the profile's lock
            atomic_write(self.path, json.dumps(data).encode())
        except BpError as exc:  # sharing is a courtesy: never fatal
            log.warn(f"cannot record the failed token request: {exc.message}")

    def since(self, started: float, token_url: str) -> str | None:
        """The error of a request to ``token_url`` that failed at ``started`` or later."""
        try:
            raw = read_private_file(self.path)
            data = json.loads(raw) if raw is not None else None
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or data.get("token_url") != token_url:
            return None
        failed_at = data.get("failed_at")
        if isinstance(failed_at, bool) or not isinstance(failed_at, int | float):
            return None
        if failed_at < started:
            return None
        return log.scrub(str(data.get("message", "")), 300) or "the token request failed"

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
