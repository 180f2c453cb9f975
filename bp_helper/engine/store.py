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

import _thread
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bp_helper import log, waiting
from bp_helper.basics import account_record, other_accounts
from bp_helper.errors import StoreError
from bp_helper.files import (
    atomic_write,
    ensure_private_dir,
    read_private_file,
    remove_leftovers,
    unsafe_dir_reason,
)
from bp_helper.tokens import FORMAT_VERSION, StoredToken, parse_file

_thread_locks: dict[Path, Any] = {}
# A forked child (multiprocessing's default on Linux) has only the thread that forked: a
# lock another thread held at that moment would stay held in the child for good.
if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_thread_locks.clear)


def _thread_lock(path: Path) -> Any:
    return _thread_locks.setdefault(path, _thread.allocate_lock())  # atomic under the GIL


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
            record = account_record(data, account)
            if record is None:
                return None
            token = StoredToken(**record)
            log.add_secret(token.access_token)  # masked if anything ever echoes them
            log.add_secret(token.refresh_token)
            return token
        except ValueError as exc:
            log.warn(f"ignoring token file {self.path}: {exc}; it is replaced at the next login")
            return None

    def identity(self) -> tuple[int, ...] | None:
        """What changes whenever the token file is replaced, written, moved, chmod-ed or
        chown-ed: its device, inode, size, mtime, ctime, mode and owner, as ``lstat`` sees
        them (a symbolic link is itself). ``None`` if there is no file.

        A record :meth:`load` returned after this identity was taken may be handed out again
        while the identity stays the same: everything ``load`` checks of the file (type,
        owner, mode, size) is part of it, so a change to any of them makes the next caller
        read it again. (Its folder is checked then too; a folder put in the place of this one
        holds another file, of another identity.)
        """
        try:
            st = os.lstat(self.path)
        except OSError:
            return None
        return (
            st.st_dev,
            st.st_ino,
            st.st_mode,
            st.st_uid,
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
        )

    def accounts(self) -> list[StoredToken]:
        """Every account of the profile, the default one first; ``[]`` for none (or a bad file)."""
        try:
            data = self._read()
            if data is None:
                return []
            found = [StoredToken.from_dict(data)]
            for record in other_accounts(data).values():
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

        Threads of one process queue on a plain lock first, then on the file lock; both
        waits sleep until the holder lets go. After ``timeout`` a :class:`StoreError` says so.
        """
        deadline = time.monotonic() + timeout
        local = _thread_lock(self.lock_path)
        if not local.acquire(timeout=timeout):
            raise self._held_too_long("another thread", timeout)
        try:
            fd = waiting.held_lock(self.lock_path)  # the cached path took it for us
            fd = self._open_lock() if fd is None else fd
            try:
                if not self._take(fd, fcntl.LOCK_EX, deadline - time.monotonic()):
                    raise self._held_too_long("another bp-helper process", timeout)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)  # a forked child may hold a copy of fd
            finally:
                os.close(fd)
        finally:
            local.release()

    def wait_while_locked(
        self, timeout: float, outcome: Callable[[], StoredToken | None], already: float = 0.0
    ) -> StoredToken | None:
        """If another caller holds the lock, sleep until it lets go, then return ``outcome()``;
        ``None`` at once when the lock is free. The lock is not taken.

        All callers waiting for one holder wake together when it lets go (they wait for a
        shared lock), and look at what it left: a fresh token stored, or its failure (which
        ``outcome()`` raises, shared). ``None`` from ``outcome()``: nothing for this caller,
        which then takes the lock itself. After ``timeout`` a :class:`StoreError` says so;
        ``already``: seconds of it this process waited before (on the cached path).
        """
        if waiting.holding(self.lock_path):  # the cached path took it for this process
            return None
        deadline = time.monotonic() + timeout - already
        local = _thread_lock(self.lock_path)
        waited = not local.acquire(blocking=False)
        if waited and not local.acquire(timeout=timeout):
            raise self._held_too_long("another thread", timeout)
        try:
            fd = self._open_lock()
            try:
                try:
                    slept = waiting.sleep_while_locked(fd, deadline - time.monotonic())
                except OSError as exc:
                    raise self._cannot_lock(exc) from None
                if slept is None:
                    raise self._held_too_long("another bp-helper process", timeout)
                waited = waited or slept
            finally:
                os.close(fd)
        finally:
            local.release()
        return outcome() if waited else None

    def _held_too_long(self, who: str, timeout: float) -> StoreError:
        return StoreError(f"{who} has held {self.lock_path} for over {timeout:.0f} s; try again")

    def _open_lock(self) -> int:
        ensure_private_dir(self.directory)
        try:
            return os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise self._cannot_lock(exc) from None

    def _take(self, fd: int, how: int, timeout: float) -> bool:
        """:func:`waiting.take`; a lock that cannot be taken for another reason is an error."""
        try:
            return waiting.take(fd, how, timeout)
        except OSError as exc:
            raise self._cannot_lock(exc) from None

    def _cannot_lock(self, exc: OSError) -> StoreError:
        return StoreError(f"cannot lock {self.lock_path}: {exc.strerror or exc}")

    @staticmethod
    def profiles(directory: Path) -> list[str]:
        """Profiles that have a token file in ``directory``."""
        try:
            return sorted(p.stem for p in directory.glob("*.json") if not p.name.startswith("."))
        except OSError:
            return []
