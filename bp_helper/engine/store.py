"""The token store: one JSON file per profile, 0600 in a 0700 folder, plus a lock file.

Reading takes no lock (writes are atomic renames), so the cached path is one ``open`` and
one ``json.loads``. Whoever wants to change a profile's tokens takes the profile's
cross-process lock and reads again inside it (see :mod:`bp_helper.engine.service`).

A profile may hold several accounts, each under the name it logged in with. The file is
the default account's record (the last explicit ``bp-helper login``), with the others under
``"accounts"``: a file of the one-account format (no ``"accounts"``) reads as it always did,
and the cached path for the default account reads the top-level record alone. One lock per
profile, not per account: the accounts share the file, so any change rewrites all of it.
"""

from __future__ import annotations

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
from bp_helper.lean import TYPE_CHECKING
from bp_helper.tokens import FORMAT_VERSION, StoredToken, parse_file

if TYPE_CHECKING:
    from typing import Any


def _other_accounts(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    others = data.get("accounts", {})
    for name, record in others.items():
        if not isinstance(record, dict):
            raise ValueError(f"its account {name!r} is not an object")
    return dict(others)


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

    def load(self, account: str | None = None) -> StoredToken | None:
        """The record of ``account`` (``None``: the default account), or ``None``.

        A file that cannot be trusted is reported and ignored.
        """
        try:
            data = self._read()
            if data is None:
                return None
            token = StoredToken.from_dict(data)
            if account is not None and token.account != account:
                record = _other_accounts(data).get(account)
                if record is None:
                    return None
                token = StoredToken.from_dict({**record, "version": FORMAT_VERSION})
            log.add_secret(token.access_token)  # masked if anything ever echoes them
            log.add_secret(token.refresh_token)
            return token
        except ValueError as exc:
            log.warn(f"ignoring token file {self.path}: {exc}; it is replaced at the next login")
            return None

    def identity(self) -> tuple[int, ...] | None:
        """What changes whenever the token file or its folder is replaced, written, moved,
        chmod-ed or chown-ed: device, inode, size, mtime, ctime, mode and owner of both, as
        ``lstat`` sees them (a symbolic link is itself). ``None`` if either is missing.

        A record :meth:`load` returned after this identity was taken may be handed out again
        while the identity stays the same: everything ``load`` checks (type, owner, mode) is
        part of it, so a change to any of them makes the next caller read the file again.
        """
        try:
            folder = os.lstat(self.directory)
            file = os.lstat(self.path)
        except OSError:
            return None
        return (
            *(folder.st_dev, folder.st_ino, folder.st_mode, folder.st_uid),
            *(folder.st_mtime_ns, folder.st_ctime_ns),
            *(file.st_dev, file.st_ino, file.st_mode, file.st_uid, file.st_size),
            *(file.st_mtime_ns, file.st_ctime_ns),
        )

    def accounts(self) -> list[StoredToken]:
        """Every account of the profile, the default one first; ``[]`` for none (or a bad file)."""
        try:
            data = self._read()
            if data is None:
                return []
            found = [StoredToken.from_dict(data)]
            for record in _other_accounts(data).values():
                found.append(StoredToken.from_dict({**record, "version": FORMAT_VERSION}))
        except ValueError as exc:
            log.warn(f"ignoring token file {self.path}: {exc}; it is replaced at the next login")
            return []
        for token in found:
            log.add_secret(token.access_token)
            log.add_secret(token.refresh_token)
        return found

    def _read(self) -> dict[str, Any] | None:
        try:
            problem = unsafe_dir_reason(os.lstat(self.directory))
        except FileNotFoundError:
            return None
        except OSError as exc:
            problem = exc.strerror or str(exc)
        if problem:
            raise ValueError(f"its folder {self.directory} {problem}")
        raw = read_private_file(self.path)
        return None if raw is None else parse_file(raw)

    def save(self, token: StoredToken, *, default: bool = False) -> None:
        """Store ``token`` as its account's record, keeping the other accounts; under :meth:`lock`.

        ``default``: it becomes the default account (so does the first account of a profile).
        """
        current = self.accounts()
        others = [t for t in current if t.account != token.account]
        if default or not current or current[0].account == token.account:
            self._write([token, *others])
        else:
            self._write([others[0], token, *others[1:]])

    def _write(self, accounts: list[StoredToken]) -> None:
        ensure_private_dir(self.directory)
        removed = remove_leftovers(self.path)  # a writer killed mid-write left them
        if removed:
            log.debug(f"removed {len(removed)} half-written token file(s) of a killed writer")
        atomic_write(self.path, accounts[0].to_json(accounts[1:]))
        log.debug(f"stored tokens of profile {self.profile!r} in {self.path}")

    def delete(self, account: str | None = None) -> bool:
        """Forget ``account`` (``None``: every account); true if there was something to forget.

        When the default account goes, the next one kept becomes the default.
        """
        if account is not None:
            accounts = self.accounts()
            kept = [t for t in accounts if t.account != account]
            if len(kept) == len(accounts):
                return False
            if kept:
                self._write(kept)
                return True
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
