"""Room for a write, held while a new token is asked for.

A server that rotates refresh tokens (as django-oauth-toolkit does) refuses the old one as
soon as it has answered a refresh: an answer that cannot then be written (a full disk, a
quota) loses the login. So the room the write needs is taken first, as a file beside the
store file, and given back just before the write; when it cannot be taken, nothing is asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from bp_helper.errors import StoreError
from bp_helper.files import ensure_private_dir


@contextmanager
def room_for_a_write(path: Path) -> Iterator[None]:
    """Hold room for the next write of ``path`` (twice its size, and 4 KiB more), under its
    lock; :class:`StoreError` when there is none."""
    ensure_private_dir(path.parent)
    try:
        size = 2 * os.stat(path).st_size + 4096
    except OSError:
        size = 8192
    # Named like atomic_write's temp files: remove_leftovers cleans up a killed process's.
    reserved = path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp"
    try:
        fd = os.open(reserved, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(bytes(size))
            while view:  # a write may stop short of the limit; the next one fails
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        with suppress(OSError):
            reserved.unlink()
        raise StoreError(
            f"cannot write {path} ({exc.strerror or exc}), so no new token was asked for and "
            "the login is kept: free some disk space, then try again"
        ) from None
    try:
        yield
    finally:
        with suppress(OSError):
            reserved.unlink()  # just before the write it made room for
