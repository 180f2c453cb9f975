"""The process around every executable: no core dumps, and output failures in one line.

:func:`prepare` runs first in :func:`bp_helper.errors.exit_status`, before any secret is read:

- the core file size limit is set to zero (soft and hard, as ssh-agent and gpg-agent do), so a
  crash never writes the password, the refresh token or the access token to a core file;
- a standard stream that was closed when the program started (``>&-``) gets ``/dev/null``
  on its file descriptor, so no file opened later takes its place, and writing to a closed
  stdout fails with ``EBADF`` instead of an ``AttributeError`` on ``None``.

After a failed write to stdout (a closed pipe, ``/dev/full``), :func:`silence_stdout` points
stdout at ``/dev/null``, as the Python documentation recommends for ``BrokenPipeError``: the
interpreter's own final flush then has nothing to complain about.
"""

import errno
import os
import sys

OUTPUT_ERRORS = frozenset({errno.EPIPE, errno.EBADF, errno.ENOSPC, errno.EIO, errno.EDQUOT})


class ClosedOutput:
    """Stands in for a standard output that was closed before the program started."""

    def __init__(self) -> None:
        self.buffer = self

    def write(self, data: object) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass


def prepare() -> None:
    no_core_dumps()
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:
            _occupy(fd)
            if name == "stdout":
                sys.stdout = ClosedOutput()


def no_core_dumps() -> None:
    try:
        import resource  # not on Windows
    except ImportError:
        return
    try:  # noqa: SIM105 -- no contextlib: the cached path (bp_helper.quick) runs this too
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _occupy(fd: int) -> None:
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


def flush_stdout() -> None:
    if sys.stdout is not None:
        sys.stdout.flush()


def output_failure(exc: OSError) -> str | None:
    """The one-line message for a failed write to standard output; ``None`` for other errors."""
    if exc.errno not in OUTPUT_ERRORS:
        return None
    if exc.errno == errno.EPIPE:
        return "cannot write the output: its reader closed the pipe"
    return f"cannot write the output: {exc.strerror or exc}"


def silence_stdout() -> None:
    """Send whatever is still buffered for stdout to ``/dev/null``."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass
