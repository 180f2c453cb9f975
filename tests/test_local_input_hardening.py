"""Hostile local input: corrupt files, huge inputs, odd commands; each one line, nothing lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .support import Home, login, one_line_error

ALICE = DEMO_USERS["alice"]
DEEP_JSON = "[" * 200_000


# -- 5: corrupt files never crash a command ----------------------------------------------


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


def test_a_deeply_nested_config_file_is_a_config_error(sandbox: Sandbox, home: Home) -> None:
    home.write_config("[profiles.default]\nhosts = " + "[" * 30_000 + "\n")
    done = home.bp("token")
    assert done.returncode == 2
    assert "is not valid TOML" in one_line_error(done)


# -- 8: secret commands -----------------------------------------------------------------


def test_a_failing_command_never_prints_its_secret(sandbox: Sandbox, home: Home) -> None:
    home.write_config(
        "[profiles.default]\nusername = 'alice'\npassword_command = "
        "['sh', '-c', 'echo hunter2-secret-x; "
        'echo "cannot unlock: hunter2-secret-x" >&2; exit 1\']\n'
    )
    done = home.bp("token")
    assert done.returncode == 2
    line = one_line_error(done)
    assert "hunter2-secret-x" not in done.stderr + done.stdout
    assert "exit status 1" in line and "[redacted]" in line


def test_an_unbalanced_quote_is_a_config_error(sandbox: Sandbox, home: Home) -> None:
    home.write_config("[profiles.default]\nusername = 'alice'\npassword_command = \"pass 'oops\"\n")
    done = home.bp("token")
    assert done.returncode == 2
    line = one_line_error(done)
    assert "password_command" in line and "quot" in line


# -- 12: every local read is capped ------------------------------------------------------


def test_a_huge_password_on_stdin_is_refused(sandbox: Sandbox, home: Home) -> None:
    done = home.bp("login", "--username", "alice", "--password-stdin", input="x" * (1 << 20))
    assert done.returncode == 2
    assert "more than 64 KiB" in one_line_error(done)
    assert sandbox.token_requests() == []


def test_a_command_printing_too_much_is_refused(sandbox: Sandbox, home: Home) -> None:
    home.write_config(
        "[profiles.default]\nusername = 'alice'\n"
        "password_command = ['head', '-c', '300000', '/dev/zero']\n"
    )
    done = home.bp("token")
    assert done.returncode == 2
    assert "printed more than 64 KiB" in one_line_error(done)
    assert sandbox.token_requests() == []


def test_a_config_that_is_not_a_regular_file_is_refused(
    sandbox: Sandbox, home: Home, tmp_path: Path
) -> None:
    fifo = tmp_path / "config.fifo"  # like /dev/zero: reading it never ends
    os.mkfifo(fifo)
    done = home.bp("token", env={"BIOPRODICT_CONFIG": str(fifo)}, timeout=60)
    assert done.returncode == 2
    assert "is not a regular file" in one_line_error(done)
