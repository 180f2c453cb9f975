"""Private files: written atomically with mode 0600, read only when they are safe to trust."""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from bp_helper import log
from bp_helper.basics import (  # the rules the cached path shares
    MAX_PRIVATE_FILE,
    others_may_write,
    read_private_file,
    unsafe_dir_reason,
)
from bp_helper.errors import StoreError

__all__ = [
    "MAX_PRIVATE_FILE",
    "atomic_write",
    "edit_lock",
    "edit_target",
    "ensure_private_dir",
    "make_dirs",
    "others_may_write",
    "read_private_file",
    "remove_leftovers",
    "unsafe_dir_reason",
    "writable_ancestor",
]


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``: temp file in the same folder, fsync, rename, fsync dir.

    Readers see the old or the new content, never a mix; the file never exists with a
    mode wider than ``mode``. Symlinks at ``path`` are replaced, not followed.
    """
    folder = path.parent
    tmp = folder / f".{path.name}.{os.urandom(6).hex()}.tmp"  # see remove_leftovers
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def remove_leftovers(path: Path) -> list[str]:
    """Remove the temp files of ``atomic_write(path)`` calls that were killed mid-write.

    Call it only where no other writer of ``path`` can be at work (holding its lock). Names
    are matched exactly, so that another file's temp files (``a.json`` versus
    ``a.json.json``) are never touched. Returns the names removed.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{12}}\.tmp")
    try:
        names = [name for name in os.listdir(path.parent) if pattern.fullmatch(name)]
    except OSError:
        return []
    removed = []
    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(path.parent / name)
            removed.append(name)
    return removed


def ensure_private_dir(folder: Path) -> None:
    """Create ``folder`` (mode 0700) or tighten it; refuse one that is not ours.

    Missing parents are created 0700 as well, whatever the umask (``mkdir -p`` would make
    them 0777 minus the umask: world-writable under ``umask 000``).
    """
    make_dirs(folder)
    try:
        st = os.lstat(folder)
    except OSError as exc:
        raise StoreError(f"cannot create {folder}: {exc.strerror or exc}") from None
    problem = unsafe_dir_reason(st, check_mode=False)
    if problem:
        raise StoreError(f"refusing to use {folder}: it {problem}")
    if stat.S_IMODE(st.st_mode) & 0o077:
        log.warn(f"{folder} had mode {stat.S_IMODE(st.st_mode):04o}; set it to 0700")
        os.chmod(folder, 0o700)


def make_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents with mode 0700, whatever the umask.

    (``mkdir -p`` would make them 0777 minus the umask: world-writable under ``umask 000``,
    so that another user could swap what is inside.) Existing folders are left as they are.
    """
    try:
        missing = []
        for parent in (folder, *folder.parents):
            if os.path.lexists(parent):
                break
            missing.append(parent)
        for parent in reversed(missing):
            with contextlib.suppress(FileExistsError):  # made meanwhile by another process
                os.mkdir(parent, 0o700)  # the umask can only take bits away from 0700
    except OSError as exc:
        raise StoreError(f"cannot create {folder}: {exc.strerror or exc}") from None


def edit_target(path: Path) -> Path:
    """The file an edit of ``path`` changes: the final target of a symbolic link (dotfiles
    setups link config files into a repository), so that the link stays; else ``path``."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


@contextlib.contextmanager
def edit_lock(path: Path, timeout: float = 30.0) -> Iterator[None]:
    """Hold the lock of edits of ``path``: ``.NAME.lock`` beside it (its folder must exist).

    Edits read the file again inside the lock, so that parallel edits all land instead of
    the last rename undoing the others. The kernel releases the lock if we die.
    """
    # filelock (about 20 ms to import) only where a lock is taken: `bp-helper --help`,
    # `--version` and completion import this module through the settings and take none.
    import filelock

    lock = filelock.FileLock(str(path.parent / f".{path.name}.lock"), mode=0o600)
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout:
        raise StoreError(
            f"another process has been editing {path} for over {timeout:.0f} s: try again"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot lock {path} to edit it: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


def writable_ancestor(folder: Path) -> str | None:
    """Why an ancestor of ``folder`` lets others replace it, or ``None``.

    A folder that someone else may write to (group or world, without the sticky bit, or
    owned by another user than you or root) lets them swap the store for one of theirs.
    """
    for parent in folder.parents:
        try:
            problem = others_may_write(parent, os.stat(parent))
        except OSError:
            continue
        if problem:
            return problem
    return None
