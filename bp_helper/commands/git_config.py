"""The global git config, edited all or nothing under git's own lock (for ``setup git``).

git changes a config file by creating ``FILE.lock`` (exclusively), writing the new content
there and renaming it over the file; a git that finds the lock taken gives up. An edit here
does the same: it takes that lock first, so that another git cannot change the file
meanwhile (it fails instead; this edit waits a few seconds for a lock already taken), lets
``git config --file`` make each change on a private copy, which touches only the lines it
changes, and renames the result over the file only when every step worked. Any failure
leaves the file as it was. A symbolic link (dotfiles) is kept: its target is edited, as git
does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from bp_helper.config.settings import read_capped
from bp_helper.errors import BpError
from bp_helper.files import MAX_PRIVATE_FILE, edit_target

LOCK_WAIT = 5.0  # seconds: parallel setups take turns; a lock left by a crash is named


def global_git_config() -> Path:
    """The file ``git config --global`` writes: ``$GIT_CONFIG_GLOBAL``, else ``~/.gitconfig``
    unless only ``$XDG_CONFIG_HOME/git/config`` (default ``~/.config``) exists."""
    explicit = os.environ.get("GIT_CONFIG_GLOBAL")
    if explicit:
        return Path(explicit).expanduser()
    home = Path(os.path.expanduser("~/.gitconfig"))
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"))
    if not os.path.lexists(home) and (xdg / "git" / "config").exists():
        return xdg / "git" / "config"
    return home


class GitConfigEdit:
    """``with GitConfigEdit(path) as config: config.git("--add", key, value)``: every change
    lands, or none does."""

    def __init__(self, path: Path) -> None:
        self.shown = path
        self.path = edit_target(path)
        self.lock = self.path.with_name(self.path.name + ".lock")
        self.fd = -1
        self.folder = ""
        self.copy = Path()
        self.original: bytes | None = None
        self.mode: int | None = None

    def __enter__(self) -> GitConfigEdit:
        deadline = time.monotonic() + LOCK_WAIT
        while self.fd < 0:
            try:
                self.fd = os.open(self.lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise BpError(
                        f"{self.lock} exists: another git is changing {self.shown}; try again "
                        "(if no git is running, remove that lock file)"
                    ) from None
                time.sleep(0.05)  # another setup's edit takes a few git runs
            except OSError as exc:
                raise BpError(f"cannot lock {self.shown}: {exc.strerror or exc}") from None
        try:
            try:
                self.original = read_capped(self.path, MAX_PRIVATE_FILE)
                self.mode = os.stat(self.path).st_mode & 0o7777
                if self.original is None:
                    raise BpError(f"{self.shown} is not a regular file of at most 1 MiB")
            except FileNotFoundError:
                pass
            self.folder = tempfile.mkdtemp(prefix="bp-helper-git-")  # 0700
            self.copy = Path(self.folder, "config")
            self.copy.write_bytes(self.original or b"")
        except OSError as exc:
            self._abandon()
            raise BpError(f"cannot read {self.shown}: {exc.strerror or exc}") from None
        except BaseException:
            self._abandon()
            raise
        return self

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``git config --file COPY ARGS``; a failure raises (naming the real file)."""
        try:
            done = subprocess.run(
                ["git", "config", "--file", str(self.copy), *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        except FileNotFoundError:
            raise BpError("git is not installed (or not on PATH)") from None
        except subprocess.TimeoutExpired:
            raise BpError(f"`git config` did not finish in 30 s; {self.shown} unchanged") from None
        done.stderr = done.stderr.replace(str(self.copy), str(self.shown))
        if check and done.returncode != 0:
            first = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
            raise BpError(f"`git config --global {' '.join(args)}` failed: {first}")
        return done

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None:
            self._abandon()
            return
        try:
            data = self.copy.read_bytes()
            if data == (self.original or b""):
                self._abandon()
                return
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
            if self.mode is not None:
                os.fchmod(self.fd, self.mode)
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = -1
            os.replace(self.lock, self.path)
        except OSError as exc:
            self._abandon()
            raise BpError(f"cannot write {self.shown}: {exc.strerror or exc}") from None
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _abandon(self) -> None:
        """Give the lock back, leaving the file untouched."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.lock)
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
