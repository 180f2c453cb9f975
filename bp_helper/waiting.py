"""Waiting for a profile's lock: the one rule the token store and the cached path share.

A caller that finds the stored token due while another holds the profile's lock (a
refresh in progress) sleeps until the holder lets go, then looks at what it left. The store
(:meth:`bp_helper.engine.store.TokenStore.wait_while_locked`) and the cached path
(:mod:`bp_helper.quick`) wait the same way, for the same time, with this module: it imports
only ``os``, ``fcntl`` and ``_thread``, so the cached path imports it only when it waits.

The cached path answers from the new token when the holder left one; when it did not (its
refresh failed), the full path takes over, told here (:func:`hand_over`) since when this
process waited, so that it shares the holder's failure as a waiter of that refresh would.
"""

import _thread
import fcntl
import os
import time

# No `from __future__ import annotations` (an import less on the cached path).
TYPE_CHECKING = False  # type checkers treat this name as true; no `typing` import

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")


def lock_timeout(network_timeout: float) -> float:
    """How long a caller waits for the profile's lock: long enough for a holder's full retry
    cycle (three requests of ``network_timeout`` seconds), bounded all the same."""
    return 3 * network_timeout + 10


def take(fd: int, how: int, timeout: float) -> bool:
    """Take ``flock(fd, how)``; ``False`` once ``timeout`` seconds passed without it.

    When someone else holds the lock, the caller sleeps rather than polls: a helper thread
    blocks in ``flock`` (woken by the kernel when the lock is let go) while the caller waits
    for it, on a thread lock, for at most ``timeout``. A helper that gets the lock after the
    caller gave up lets go of it at once. Threads and processes alike; no signals.
    """
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        if timeout <= 0:
            return False
    return _LockWaiter(fd, how).wait(timeout)


def sleep_while_locked(fd: int, timeout: float, keep_free: bool = False) -> bool | None:
    """If someone holds the lock of ``fd``, sleep until they let go: ``True``. ``False`` at
    once when it is free; ``None`` after ``timeout`` seconds. The lock is not kept, except a
    free one with ``keep_free``: then ``fd`` holds it (exclusive).

    Waiters ask for a shared lock, so all those waiting for one holder wake together.
    """
    if take(fd, fcntl.LOCK_EX, 0):
        if keep_free:
            return False
        waited = False
    elif take(fd, fcntl.LOCK_SH, timeout):
        waited = True
    else:
        return None
    fcntl.flock(fd, fcntl.LOCK_UN)
    return waited


class _LockWaiter:
    """A helper thread blocked in ``flock`` for a caller that waits at most so long.

    Built on ``_thread`` (``threading`` costs a waiting process more to import than the
    rest of its wait).
    """

    def __init__(self, fd: int, how: int) -> None:
        self.fd = os.dup(fd)  # the same open file: a lock taken through it is the caller's
        self.how = how
        self.error: OSError | None = None
        self.taken = False
        self.abandoned = False
        self.state = _thread.allocate_lock()
        self.done = _thread.allocate_lock()
        self.done.acquire()  # released by the helper when it is done
        _thread.start_new_thread(self._block, ())

    def _block(self) -> None:
        try:
            fcntl.flock(self.fd, self.how)
        except OSError as exc:
            self.error = exc
        with self.state:
            if self.abandoned and self.error is None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)  # the caller gave up: let the next one in
            self.taken = self.error is None and not self.abandoned
            os.close(self.fd)
            self.done.release()

    def wait(self, timeout: float) -> bool:
        finished = self.done.acquire(timeout=timeout)
        with self.state:
            if not finished and not self.taken and self.error is None:
                self.abandoned = True
                return False
        if self.error is not None:
            raise self.error
        return self.taken


def after_the_holder(lock_path: str, timeout: float, fresh: "Callable[[], T | None]") -> "T | None":
    """For the cached path, which found the profile's token due: ``fresh()`` (the token, or
    ``None`` while it is due) once the holder of ``lock_path`` let go of it; ``None`` when
    the full path must go on. That is when nobody held the lock (this process now holds it,
    for the full path to refresh: see :func:`hand_over_lock`), when the holder left no fresh
    token, and after ``timeout``. In those two the full path is told since when this process
    waited: it shares the holder's failure, and waits only what is left of ``timeout``.
    """
    since = time.time()
    fd = os.open(lock_path, os.O_RDWR | os.O_NOFOLLOW)  # none yet: nobody holds it
    try:
        waited = sleep_while_locked(fd, timeout, keep_free=True)
    except BaseException:
        os.close(fd)
        raise
    if waited is False:
        hand_over_lock(fd)
        return None
    os.close(fd)
    token = fresh() if waited else None
    if token is None:  # the holder left no fresh token, or is still at it
        hand_over(lock_path, since)
    return token


# -- the cached path's hand-over to the full path ------------------------------------------------

_waited: dict[str, float] = {}  # lock path: since when this process waited for its holder
_held: dict[tuple[int, int], int] = {}  # (device, inode) of the lock file: its descriptor


def hand_over_lock(fd: int) -> None:
    """The cached path found the token due and the profile's lock free, and took it (``fd``
    holds it): the full path, in this process, refreshes holding it. Meanwhile the callers
    that come find it held, and wait on the cached path instead of all going to the full
    path."""
    st = os.fstat(fd)
    _held[st.st_dev, st.st_ino] = fd


def _identity(lock_path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(lock_path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def holding(lock_path: str | os.PathLike[str]) -> bool:
    """Does this process hold ``lock_path`` for the full path (see :func:`hand_over_lock`)?"""
    return bool(_held) and _identity(lock_path) in _held


def held_lock(lock_path: str | os.PathLike[str]) -> int | None:
    """The descriptor that holds ``lock_path`` for the full path, now the caller's to
    release and close; ``None`` if there is none."""
    identity = _identity(lock_path) if _held else None
    return None if identity is None else _held.pop(identity, None)


def hand_over(lock_path: str, since: float) -> None:
    """The cached path waited for ``lock_path``'s holder from ``since`` (``time.time()``) and
    found no fresh token after it: the full path, in this process, takes it from here."""
    _waited[os.fspath(lock_path)] = since


def waited_since(lock_path: str | os.PathLike[str]) -> float | None:
    """When this process began to wait for ``lock_path``'s holder before the full path ran
    (see :func:`hand_over`); ``None`` if it did not. Told once."""
    return _waited.pop(os.fspath(lock_path), None)
