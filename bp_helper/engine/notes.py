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
that made it, before it lets go of the profile's lock; so is any other failure to get a
new token that would fail theirs too (the server refused the client, a full disk), for the
same client and account. Callers that were already waiting for that lock share the
failure instead of repeating it one after the other: a burst of callers during an outage
makes one retry cycle, and nobody waits out the lock timeout. Callers that start later try
again themselves.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import NamedTuple

from bp_helper import log
from bp_helper.errors import BpError, LoginRefusedRecently
from bp_helper.files import atomic_write, ensure_private_dir, read_private_file, remove_leftovers

REFUSAL_WINDOW = 30.0  # seconds


class _Note:
    """A small JSON note next to the token store, written under the profile's lock."""

    suffix = ""
    what = ""

    def __init__(self, directory: Path, profile: str) -> None:
        self.path = directory / f"{profile}.{self.suffix}"

    def _write(self, data: dict[str, object], quiet: bool = False) -> None:
        """Write the note; one that cannot be written is a warning (``quiet``: a debug line,
        for a note about a failure that the caller reports anyway, such as a full disk)."""
        try:
            ensure_private_dir(self.path.parent)
            remove_leftovers(self.path)  # written only under the profile's lock
            atomic_write(self.path, json.dumps(data).encode())
        except BpError as exc:  # a courtesy to other callers: never fatal
            (log.debug if quiet else log.warn)(f"cannot record the {self.what}: {exc.message}")

    def _read(self, key: str, value: str, stamp: str) -> tuple[dict[str, object], float] | None:
        """The note and its time, if it is about ``key`` = ``value``; else ``None``."""
        try:
            raw = read_private_file(self.path)
            data = json.loads(raw) if raw is not None else None
        except (ValueError, UnicodeDecodeError) as exc:
            log.warn(f"ignoring {self.path}: {exc}")
            return None
        except RecursionError:  # absurdly deep nesting
            log.warn(f"ignoring {self.path}: it is not valid JSON")
            return None
        if not isinstance(data, dict) or data.get(key) != value:
            return None
        when = data.get(stamp)
        if isinstance(when, bool) or not isinstance(when, int | float):
            return None
        return data, float(when)

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


class RefusalNote(_Note):
    """The last refused login of one profile, in ``<tokens dir>/<profile>.refused``."""

    suffix = "refused"
    what = "refused login"

    def remember(self, username: str, reason: str) -> None:
        self._write({"username": username, "refused_at": time.time(), "reason": reason})

    def check(self, username: str, hint: str, now: float | None = None) -> None:
        """Raise :class:`LoginRefusedRecently` if ``username`` was refused within the window."""
        found = self._read("username", username, "refused_at")
        if found is None:
            return
        data, refused_at = found
        ago = (time.time() if now is None else now) - refused_at
        if not 0 <= ago < REFUSAL_WINDOW:
            return
        reason = log.scrub(str(data.get("reason", "")), 160) or "refused"
        raise LoginRefusedRecently(
            f"the last login as {username!r} was refused {ago:.0f} s ago ({reason}); "
            f"not trying again for {REFUSAL_WINDOW - ago:.0f} s: {hint}"
        )


class Failure(NamedTuple):
    """A failed token request as the callers that waited for it see it."""

    message: str
    kind: str  # the name of the error's class (see bp_helper.errors)
    transient: bool  # it says nothing about the credentials: the old token may still serve


class FailureNote(_Note):
    """The last token request of one profile that failed for everyone (``<profile>.failed``).

    A transient failure (the server is down) concerns every account that uses the token URL;
    any other (the server refused the client, a full disk) only the same client and account.
    """

    suffix = "failed"
    what = "failed token request"

    def remember(
        self,
        token_url: str,
        message: str,
        *,
        kind: str = "TokenRequestError",
        transient: bool = True,
        client_id: str | None = None,
        account: str | None = None,
    ) -> None:
        data: dict[str, object] = {"token_url": token_url, "failed_at": time.time()}
        data.update(message=message, kind=kind, transient=transient)
        if not transient:
            data.update(client_id=client_id, account=account)
        self._write(data, quiet=not transient)

    def since(
        self,
        started: float,
        token_url: str,
        client_id: str | None = None,
        account: str | None = None,
    ) -> Failure | None:
        """The failure of a request to ``token_url`` at ``started`` or later that concerns
        ``client_id`` and ``account``; ``None`` if there is none."""
        found = self._read("token_url", token_url, "failed_at")
        if found is None or found[1] < started:
            return None
        data = found[0]
        transient = data.get("transient", True) is not False
        if not transient and (data.get("client_id"), data.get("account")) != (client_id, account):
            return None
        message = log.scrub(str(data.get("message", "")), 300) or "the token request failed"
        kind = data.get("kind")
        return Failure(message, kind if isinstance(kind, str) else "TokenRequestError", transient)
