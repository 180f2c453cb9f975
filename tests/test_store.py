"""The token store (engine/store.py) and its notes: what it trusts, what it ignores, its lock."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bp_helper.engine.store import TokenStore
from bp_helper.errors import StoreError
from bp_helper.testing import DEMO_USERS, Sandbox

from .support import (
    UNMEASURED,
    Home,
    executable,
    expire_stored_token,
    login,
    one_line_error,
    sign_in,
)


def test_a_refresh_that_could_not_be_kept_is_not_asked_for(sandbox: Sandbox, home: Home) -> None:
    """The sandbox rotates refresh tokens, as real servers do: a refresh whose answer cannot
    be written (a full disk; here RLIMIT_FSIZE makes every file write past 100 bytes fail)
    would lose the login. It is not asked for; the login is kept for the next try."""
    sign_in(home)
    before = home.stored()
    expire_stored_token(home)

    def tiny_files() -> None:  # as a full disk does: writing the new token file fails
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))

    full = subprocess.run(
        [executable("bp-helper"), "token"],
        capture_output=True,
        text=True,
        env={**home.env, **UNMEASURED},
        timeout=60,
        check=False,
        preexec_fn=tiny_files,
    )
    assert full.returncode == 1, full.stdout + full.stderr
    line = one_line_error(full)
    assert "cannot write" in line and "the login is kept" in line
    assert sandbox.token_requests("refresh_token") == []  # nothing was asked for
    assert home.stored()["refresh_token"] == before["refresh_token"]
    again = home.bp("token")  # room again: the kept refresh token still works
    assert again.returncode == 0, again.stderr
    assert [r.status for r in sandbox.token_requests("refresh_token")] == [200]


def test_symlinked_store_file_is_not_followed(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    real = home.store_dir / "elsewhere.json"
    home.store_file().rename(real)
    home.store_file().symlink_to(real)
    done = home.bp("token")
    assert done.returncode == 3
    assert "symbolic link" in done.stderr
    login(home)  # the next login replaces the link with a file of its own
    assert not home.store_file().is_symlink()
    assert real.exists()


def test_foreign_owned_store_file_is_not_trusted(sandbox: Sandbox, home: Home) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to chown a file to another user (CI runs as root)")
    sign_in(home)
    os.chown(home.store_file(), 12345, 12345)
    done = home.bp("token")
    assert done.returncode == 3
    assert "owned by uid 12345" in done.stderr


def test_store_folder_open_to_others_is_reported_then_tightened(
    sandbox: Sandbox, home: Home
) -> None:
    sign_in(home)
    os.chmod(home.store_dir, 0o755)
    done = home.bp("token")
    # reported, then tightened; the file itself passed its own checks (ours, 0600, no link)
    assert "mode 0755" in done.stderr
    assert home.store_dir.stat().st_mode & 0o777 == 0o700
    assert done.returncode == 0
    assert done.stdout.strip() == home.stored()["access_token"]


def test_oversized_store_file_is_not_read(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    home.store_file().write_bytes(b" " * (2 << 20))
    done = home.bp("token")
    assert done.returncode == 3
    assert "too large" in done.stderr


def test_killed_lock_holder_does_not_block_others(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    good = home.stored()
    expire_stored_token(home)
    sandbox.inject("hang", seconds=60)
    holder = subprocess.Popen(
        [executable("bp-helper"), "token"],
        env=home.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while not sandbox.token_requests("refresh_token") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.token_requests("refresh_token"), "the holder never reached the server"
    os.kill(holder.pid, signal.SIGKILL)  # dies while holding the profile's lock
    holder.wait()
    started = time.monotonic()
    done = home.bp("token", timeout=30)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 10
    assert home.stored()["refresh_token"] != good["refresh_token"]  # rotated by the refresh
    assert not list(home.store_dir.glob(".*.tmp"))  # no half-written files left


ALICE = DEMO_USERS["alice"]


DEEP_JSON = "[" * 200_000


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(0o600)


def test_a_deeply_nested_token_file_is_ignored_and_replaced(sandbox: Sandbox, home: Home) -> None:
    write_private(home.store_file(), DEEP_JSON)
    token = home.bp("token")
    assert token.returncode == 3, token.stderr
    assert "internal error" not in token.stderr
    assert "ignoring token file" in token.stderr
    status = home.bp("status")
    assert status.returncode == 0, status.stderr
    assert login(home).returncode == 0
    assert home.stored()["username"] == "alice"
    write_private(home.store_file(), DEEP_JSON)
    logout = home.bp("logout")
    assert logout.returncode == 0, logout.stderr
    assert not home.store_file().exists()


@pytest.mark.parametrize("note", ["refused", "failed"])
def test_deeply_nested_notes_are_ignored(sandbox: Sandbox, home: Home, note: str) -> None:
    write_private(home.store_dir / f"default.{note}", DEEP_JSON)
    done = home.bp(
        "token", env={"BIOPRODICT_USERNAME": "alice", "BIOPRODICT_PASSWORD": ALICE.password}
    )
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr


HOLD_LOCK = (
    "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); "
    "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()"
)


def test_a_wait_for_the_lock_ends_at_its_timeout_and_leaves_the_lock_free(tmp_path: Path) -> None:
    """Waiters sleep on the lock, yet its timeout holds; a wait that gave up takes nothing."""
    store = TokenStore(tmp_path / "tokens", "default")
    (tmp_path / "tokens").mkdir(mode=0o700)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(store.lock_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        held = r"another bp-helper process has held .* for over 0 s"
        with pytest.raises(StoreError, match=held), store.lock(0.2):
            pytest.fail("took a lock another process holds")
        with pytest.raises(StoreError, match=held):
            store.wait_while_locked(0.2, lambda: pytest.fail("looked before the holder let go"))
    finally:
        holder.communicate("")  # the holder lets go and ends
    with store.lock(30):  # the abandoned waits let go of what they got after giving up
        assert store.lock_path.exists()
