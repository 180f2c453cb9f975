"""The token store: one JSON file per profile, 0600 in a 0700 folder, plus a lock file.

Reading takes no lock (writes are atomic renames), so the cached path is one ``open`` and
one ``json.loads``. Whoever wants to change a profile's tokens takes the profile's
cross-process lock and reads again inside it (see :mod:`bp_helper.engine.service`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bp_helper import log
from bp_helper.errors import StoreError
from bp_helper.files import (
    atomic_write,
    ensure_private_dir,
    read_private_file,
    remove_leftovers,
    unsafe_dir_reason,
)
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
    audience: str | None = None  # a client-credentials grant's audience (None: password grant)
    # Where secrets other than the access token are kept (see
    # bp_helper.secrets.profile_keyring): the password only after
    # `login --remember-password`, the refresh token with refresh_token_storage = "keyring"
    # (then refresh_token is None in the file).
    password_in_keyring: bool = False
    refresh_token_in_keyring: bool = False
    extra: dict[str, Any] = {}  # noqa: RUF012 -- never mutated

    def fresh(self, margin: float, now: float | None = None) -> bool:
        """Usable for at least ``margin`` more seconds (at most half the token's lifetime)."""
        if not self.access_token:
            return False
        now = time.time() if now is None else now
        lifetime = max(self.expires_at - self.obtained_at, 0.0)
        return now < self.expires_at - min(margin, lifetime / 2)

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

    def to_json(self) -> bytes:
        data = {"version": FORMAT_VERSION, **self._asdict()}
        return json.dumps(data, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> StoredToken:
        """Parse a store file; ``ValueError`` says what is wrong with it."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("it is not valid JSON") from None
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError("it is not a bp-helper token file of this version")
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


_thread_locks: dict[Path, Any] = {}
# A forked child (multiprocessing's default on Linux) has only the thread that forked: a
# lock another thread held at that moment would stay held in the child for good.
if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_thread_locks.clear)


def _pauses() -> Iterator[None]:
    """Waits between looks at a lock someone else holds: 2 ms, growing to 20 ms."""
    pause = 0.002
    while True:
        time.sleep(pause)
        pause = min(pause * 1.5, 0.02)
        yield


def _thread_lock(path: Path) -> Any:
    import threading  # not on the cached path

    return _thread_locks.setdefault(path, threading.Lock())  # atomic under the GIL


class TokenStore:
    """The tokens of one profile, in ``<state dir>/tokens/<profile>.json``."""

    def __init__(self, directory: Path, profile: str) -> None:
        self.directory = directory
        self.profile = profile
        self.path = directory / f"{profile}.json"
        self.lock_path = directory / f"{profile}.lock"

    def load(self) -> StoredToken | None:
        """The stored token, or ``None``; a file that cannot be trusted is reported and ignored."""
        try:
            problem = unsafe_dir_reason(os.lstat(self.directory))
        except FileNotFoundError:
            return None
        except OSError as exc:
            problem = exc.strerror or str(exc)
        try:
            if problem:
                raise ValueError(f"its folder {self.directory} {problem}")
            raw = read_private_file(self.path)
            if raw is None:
                return None
            token = StoredToken.from_json(raw)
            log.add_secret(token.access_token)  # masked if anything ever echoes them
            log.add_secret(token.refresh_token)
            return token
        except ValueError as exc:
            log.warn(f"ignoring token file {self.path}: {exc}; it is replaced at the next login")
            return None

    def save(self, token: StoredToken) -> None:
        """Replace the stored tokens; only while holding :meth:`lock`."""
        ensure_private_dir(self.directory)
        removed = remove_leftovers(self.path)  # a writer killed mid-write left them
        if removed:
            log.debug(f"removed {len(removed)} half-written token file(s) of a killed writer")
        atomic_write(self.path, token.to_json())
        log.debug(f"stored tokens of profile {self.profile!r} in {self.path}")

    def delete(self) -> bool:
        """Forget the profile's tokens; true if there was something to forget."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot remove {self.path}: {exc.strerror}") from None
        return True

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Hold the profile's cross-process lock (released by the kernel if we die).

        Threads of one process queue on a plain lock first, so they do not poll each other;
        processes poll the file lock until ``timeout``, then a :class:`StoreError` says so.
        """
        deadline = time.monotonic() + timeout
        local = _thread_lock(self.lock_path)
        if not local.acquire(timeout=timeout):
            raise StoreError(f"another thread has held {self.lock_path} for over {timeout:.0f} s")
        try:
            lock = self._file_lock()
            pauses = _pauses()
            while not self._try(lock):
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"another bp-helper process has held {self.lock_path} for over "
                        f"{timeout:.0f} s; try again"
                    )
                next(pauses)
            try:
                yield
            finally:
                lock.release()
        finally:
            local.release()

    def wait_while_locked(
        self, timeout: float, outcome: Callable[[], StoredToken | None]
    ) -> StoredToken | None:
        """While another caller holds the lock, watch for its ``outcome``; do not take the lock.

        Returns the token ``outcome()`` finds as soon as it finds one (another caller stored a
        fresh token), or ``None`` once the lock is free: then it is this caller's turn to
        :meth:`lock` and look again. What ``outcome()`` raises (the holder's failure, shared)
        ends the wait as well. After ``timeout`` it returns ``None`` and :meth:`lock` decides.
        """
        deadline = time.monotonic() + timeout
        local = _thread_lock(self.lock_path)
        lock = self._file_lock()
        pauses = _pauses()
        while True:
            if local.acquire(blocking=False):
                try:
                    if self._try(lock):
                        lock.release()
                        return None
                finally:
                    local.release()
            found = outcome()
            if found is not None or time.monotonic() > deadline:
                return found
            next(pauses)

    def _file_lock(self) -> Any:
        import filelock

        ensure_private_dir(self.directory)
        return filelock.FileLock(str(self.lock_path), mode=0o600, thread_local=False)

    def _try(self, lock: Any) -> bool:
        """Take ``lock`` if it is free, at once; a lock file that cannot be opened is an error."""
        import filelock

        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            return False
        except OSError as exc:
            raise StoreError(f"cannot lock {self.lock_path}: {exc.strerror or exc}") from None
        return True

    @staticmethod
    def profiles(directory: Path) -> list[str]:
        """Profiles that have a token file in ``directory``."""
        try:
            return sorted(p.stem for p in directory.glob("*.json") if not p.name.startswith("."))
        except OSError:
            return []
