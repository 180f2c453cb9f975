"""Where secrets come from: each source, their order, commands, backoff, and never blocking."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .support import (
    Home,
    executable,
    expire_stored_token,
    login,
    one_line_error,
    read_until,
    sign_in,
    sign_out,
    spawn_with_terminal,
)

ALICE = DEMO_USERS["alice"]
BOB = DEMO_USERS["bob"]


def toml_list(argv: list[str]) -> str:
    return "[" + ", ".join(json.dumps(a) for a in argv) + "]"


def printer(tmp_path: Path, text: str, marker: str = "ran") -> list[str]:
    """A command (in a folder with a space in its name) that prints ``text`` and leaves a mark."""
    folder = tmp_path / "my secrets"
    folder.mkdir(exist_ok=True)
    script = folder / "print secret.sh"
    script.write_text(f'#!/bin/sh\ntouch "$1"\nprintf "%s\\n" {shlex.quote(text)}\n')
    script.chmod(0o700)
    return [str(script), str(tmp_path / marker)]


def test_password_sources_in_order(sandbox: Sandbox, home: Home, tmp_path: Path) -> None:
    """env > password_command > remembered keyring > terminal prompt; the winner is named."""
    home.use_keyring("bp_test_keyrings.RaisingKeyring")
    command = printer(tmp_path, ALICE.password)
    home.write_config(f"[profiles.default]\npassword_command = {toml_list(command)}\n")
    login(home)
    data = home.stored()
    data["password_in_keyring"] = True  # as if remembered: the keyring would be next
    home.store_file().write_text(json.dumps(data))
    marker = tmp_path / "ran"

    expire_stored_token(home, drop_refresh_token=True)
    done = home.bp("--debug", "token", env={"BIOPRODICT_PASSWORD": ALICE.password})
    assert done.returncode == 0, done.stderr
    assert "password from env BIOPRODICT_PASSWORD" in done.stderr
    assert not marker.exists()  # the command was not run
    assert "OS keyring" not in done.stderr  # the (raising) keyring was not asked

    expire_stored_token(home, drop_refresh_token=True)
    done = home.bp("--debug", "token")
    assert done.returncode == 0, done.stderr
    assert "password from password_command (config " in done.stderr
    assert marker.exists()
    assert "OS keyring" not in done.stderr
    assert sandbox.token_requests("password")[-1].form["password"] == [ALICE.password]

    home.write_config("[profiles.default]\n")
    expire_stored_token(home, drop_refresh_token=True)
    done = home.bp("--debug", "token")
    assert done.returncode == 3  # the keyring came next: it failed (one warning), no prompt
    warnings = [line for line in done.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "OS keyring unavailable" in warnings[0]
    assert "needed, but there is no terminal to ask on" in done.stderr


def test_password_command_quoting_and_spaces(sandbox: Sandbox, home: Home, tmp_path: Path) -> None:
    # A string is split like a shell would; quoting protects &, =, +, %, #, spaces.
    as_string = f"printf '%s\\n' {shlex.quote(ALICE.password)}"
    home.write_config(f"[profiles.default]\npassword_command = {json.dumps(as_string)}\n")
    done = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"})
    assert done.returncode == 0, done.stderr
    assert sandbox.token_requests("password")[-1].form["password"] == [ALICE.password]
    # A list is run as it is: a program whose path has spaces, arguments unsplit.
    sign_out(home)
    command = printer(tmp_path, ALICE.password)
    home.write_config(f"[profiles.default]\npassword_command = {toml_list(command)}\n")
    done = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"})
    assert done.returncode == 0, done.stderr
    assert sandbox.token_requests("password")[-1].form["password"] == [ALICE.password]
    # Never a shell: shell syntax in a string is passed on literally.
    sign_out(home)
    home.write_config('[profiles.default]\npassword_command = "echo $HOME; exit 3"\n')
    done = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"})
    assert done.returncode == 1  # refused: the password was the literal text
    assert sandbox.token_requests("password")[-1].form["password"] == ["$HOME; exit 3"]


def test_failing_password_command(sandbox: Sandbox, home: Home) -> None:
    home.write_config(
        '[profiles.default]\npassword_command = ["sh", "-c", "echo vault is sealed >&2; exit 4"]\n'
    )
    done = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"})
    assert done.returncode == 2
    line = one_line_error(done)
    assert "password_command" in line and "exit status 4" in line and "vault is sealed" in line
    assert sandbox.requests == []
    home.write_config('[profiles.default]\npassword_command = "no-such-program-here"\n')
    done = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"})
    assert done.returncode == 2
    assert "'no-such-program-here' not found" in one_line_error(done)
    home.write_config('[profiles.default]\npassword_command = "true"\n')
    done = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"})
    assert "printed nothing" in one_line_error(done)


def test_a_failing_command_s_stderr_is_redacted_of_what_it_printed_on_stdout(
    sandbox: Sandbox, home: Home
) -> None:
    """A command that prints a labelled secret, then fails echoing it: the stderr shown keeps
    its words, not the secret's, however the stdout line was laid out."""
    script = 'echo "secret: s3cr3t-value"; echo "vault: s3cr3t-value refused" >&2; exit 4'
    home.write_config(f"[profiles.default]\npassword_command = ['sh', '-c', '{script}']\n")
    done = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"})
    assert done.returncode == 2
    line = one_line_error(done)
    assert "exit status 4" in line and "vault:" in line and "refused" in line
    assert "s3cr3t" not in line
    assert sandbox.requests == []


@pytest.mark.slow
def test_slow_password_command_is_bounded_and_killed(
    sandbox: Sandbox, home: Home, tmp_path: Path
) -> None:
    pidfile = tmp_path / "sleeper.pid"
    script = f"sleep 300 & echo $! > {shlex.quote(str(pidfile))}; wait; echo too-late"
    home.write_config(
        "[profiles.default]\ncommand_timeout = 1\n"
        f"password_command = {toml_list(['sh', '-c', script])}\n"
    )
    started = time.monotonic()
    done = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"}, timeout=60)
    assert time.monotonic() - started < 30  # bounded: not the 300 s the command wanted
    assert done.returncode == 2
    assert "did not finish within 1 s" in one_line_error(done)
    assert sandbox.requests == []
    # the whole process group is gone, the grandchild `sleep` included
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_client_secret_sources(sandbox: Sandbox, home: Home, tmp_path: Path) -> None:
    env = {k: v for k, v in home.env.items() if k != "BIOPRODICT_CLIENT_SECRET"}
    home.env = env
    command = printer(tmp_path, "demo-secret")
    home.write_config(
        '[profiles.default]\nclient_secret = "wrong"\n'
        f"client_secret_command = {toml_list(command)}\n"
    )
    done = home.bp("--debug", "token", env={"BIOPRODICT_CLIENT_SECRET": "demo-secret"}, input="")
    assert "client secret from env BIOPRODICT_CLIENT_SECRET" in done.stderr
    done = home.bp("--debug", "token")
    assert "client secret from config " in done.stderr  # the key beats the command
    home.write_config(f"[profiles.default]\nclient_secret_command = {toml_list(command)}\n")
    done = home.bp(
        "--debug", "login", "--username", "alice", "--password-stdin", input=ALICE.password
    )
    assert done.returncode == 0, done.stderr
    assert "client secret from client_secret_command (config " in done.stderr
    # an empty secret from a command is valid (a public client)
    home.env.update(BIOPRODICT_CLIENT_ID="bp-public")
    home.write_config("[profiles.default]\nclient_secret_command = \"printf '\\\\n'\"\n")
    done = home.bp("login", "--username", "alice", "--password-stdin", input=ALICE.password)
    assert done.returncode == 0, done.stderr


def test_twofactor_sources_in_order(sandbox: Sandbox, home: Home, tmp_path: Path) -> None:
    """--twofactor > BIOPRODICT_TWOFACTOR > twofactor_command; no prompt without a terminal."""
    assert BOB.twofactor
    command = printer(tmp_path, BOB.twofactor)
    home.write_config(f"[profiles.default]\ntwofactor_command = {toml_list(command)}\n")
    home.env.update(BIOPRODICT_USERNAME="bob", BIOPRODICT_PASSWORD=BOB.password)
    done = home.bp("--debug", "token")
    assert done.returncode == 0, done.stderr
    assert "two-factor code from twofactor_command" in done.stderr
    assert sandbox.token_requests("password")[-1].form["twofactor"] == [BOB.twofactor]
    done = home.bp("--debug", "login", env={"BIOPRODICT_TWOFACTOR": BOB.twofactor})
    assert "two-factor code from env BIOPRODICT_TWOFACTOR" in done.stderr
    done = home.bp(
        "--debug", "login", "--twofactor", BOB.twofactor, env={"BIOPRODICT_TWOFACTOR": "1"}
    )
    assert done.returncode == 0, done.stderr
    assert "two-factor code from flag --twofactor" in done.stderr
    home.write_config("[profiles.default]\n")
    done = home.bp("login")  # no code anywhere, nobody to ask
    assert done.returncode == 1
    assert "two-factor code" in one_line_error(done)


def test_refused_login_backs_off(sandbox: Sandbox, home: Home) -> None:
    wrong = {"BIOPRODICT_USERNAME": "alice", "BIOPRODICT_PASSWORD": "not-" + ALICE.password}
    done = home.bp("token", env=wrong)
    assert done.returncode == 1
    assert "Bad credentials" in one_line_error(done)
    assert len(sandbox.token_requests("password")) == 1
    state = home.store_dir / "default.refused"
    assert state.stat().st_mode & 0o777 == 0o600
    # a burst of callers: each fails at once with the reason, none reaches the server
    for _ in range(3):
        again = home.bp("token", env=wrong)
        assert again.returncode == 1
        line = one_line_error(again)
        assert "was refused" in line and "Bad credentials" in line and "bp-helper login" in line
    assert len(sandbox.token_requests("password")) == 1
    # another user is not held back
    other = home.bp("token", env={"BIOPRODICT_USERNAME": "carol", "BIOPRODICT_PASSWORD": "x"})
    assert "locked" in one_line_error(other)
    assert len(sandbox.token_requests("password")) == 2
    # once the window has passed, the next attempt reaches the server again
    data = json.loads(state.read_text())
    data["refused_at"] -= 3600
    state.write_text(json.dumps(data))
    home.bp("token", env=wrong)
    assert len(sandbox.token_requests("password")) == 3
    # an explicit login always tries, and success clears the record
    login(home)
    assert not state.exists()
    assert home.bp("token").returncode == 0


def test_refused_interactive_login_does_not_prompt_again(sandbox: Sandbox, home: Home) -> None:
    home.env["BIOPRODICT_USERNAME"] = "alice"
    proc, master = spawn_with_terminal(home, ["token"])
    try:
        for _attempt in range(3):  # asked again after a refusal, three times in all
            read_until(master, b"Bio-Prodict password for alice (")
            os.write(master, b"wrong password\n")
        _out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
    assert proc.returncode == 1 and b"Bad credentials" in err
    proc, master = spawn_with_terminal(home, ["token"])
    try:
        out, err = proc.communicate(timeout=30)  # no prompt: it answers by itself
    finally:
        os.close(master)
    assert proc.returncode == 1
    assert b"was refused" in err and b"Bad credentials" in err
    assert out == b""
    assert len(sandbox.token_requests("password")) == 3


@pytest.mark.parametrize(
    ("argv", "query", "code"),
    [
        (["bp-helper", "token"], "", 3),
        # git ends its request with a blank line and may keep the pipe open
        (["git-credential-bioprodict", "get"], "protocol=https\nhost={netloc}\n\n", 0),
        (["bp-helper", "git", "get"], "protocol=https\nhost={netloc}\n\n", 0),
    ],
)
def test_no_terminal_never_blocks_on_open_pipes(
    sandbox: Sandbox, home: Home, argv: list[str], query: str, code: int
) -> None:
    """stdin and stdout are pipes that stay open, no terminal: a fast one-line outcome."""
    proc = subprocess.Popen(
        [executable(argv[0]), *argv[1:]],
        stdin=subprocess.PIPE,  # never closed: reading past the request would block forever
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=home.env,
        start_new_session=True,
        text=True,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(query.format(netloc=sandbox.netloc))
        proc.stdin.flush()
        proc.wait(timeout=30)
        out, err = (
            proc.stdout.read() if proc.stdout else "",
            proc.stderr.read() if proc.stderr else "",
        )
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == code
    assert out == ""  # git falls through to its next helper; nothing half-answered
    assert len(err.strip().splitlines()) == 1 and "login needed" in err
    assert sandbox.requests == []


def test_noninteractive_flag_wins_over_a_terminal(sandbox: Sandbox, home: Home) -> None:
    home.env["BIOPRODICT_NONINTERACTIVE"] = "1"
    proc, master = spawn_with_terminal(home, ["token"])
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
    assert proc.returncode == 3
    assert b"non-interactive mode" in err and out == b""


def test_status_says_where_secrets_live(sandbox: Sandbox, home: Home, tmp_path: Path) -> None:
    sign_in(home)
    done = home.bp("status", "--json")
    data = json.loads(done.stdout)
    assert data["plaintext"] == ["refresh token", "access token"]
    secrets = data["secrets"]
    assert secrets["client secret"]["source"] == "env BIOPRODICT_CLIENT_SECRET"
    assert secrets["refresh token"]["kept"].startswith(f"token store {home.store_file()}")
    assert secrets["password"]["source"] == ""  # nowhere: no terminal, nothing configured
    assert "no terminal" in secrets["password"]["kept"]
    # a client secret in the config file is plaintext too; a password command is a source
    del home.env["BIOPRODICT_CLIENT_SECRET"]
    home.write_config(
        '[profiles.default]\nclient_secret = "demo-secret"\n'
        f"password_command = {toml_list(printer(tmp_path, ALICE.password))}\n"
    )
    data = json.loads(home.bp("status", "--json").stdout)
    assert data["plaintext"] == ["client secret", "refresh token", "access token"]
    assert data["secrets"]["password"]["source"].startswith("password_command (config ")
    text = home.bp("status").stdout
    assert "Plaintext:      client secret, refresh token, access token kept unencrypted" in text
    assert not (tmp_path / "ran").exists()  # status runs no command


def test_missing_twofactor_code_is_not_held_back(sandbox: Sandbox, home: Home) -> None:
    """No code could be given: the next call with a code goes through at once."""
    assert BOB.twofactor
    home.env.update(BIOPRODICT_USERNAME="bob", BIOPRODICT_PASSWORD=BOB.password)
    done = home.bp("token")
    assert done.returncode == 1 and "two-factor" in one_line_error(done)
    done = home.bp("token", env={"BIOPRODICT_TWOFACTOR": BOB.twofactor})
    assert done.returncode == 0, done.stderr
    done = home.bp("token", env={"BIOPRODICT_TWOFACTOR": "000000"})
    assert done.returncode == 0  # cached: no login at all
    sign_out(home)
    assert home.bp("token", env={"BIOPRODICT_TWOFACTOR": "000000"}).returncode == 1
    again = home.bp("token", env={"BIOPRODICT_TWOFACTOR": BOB.twofactor})
    assert "was refused" in one_line_error(again)  # a wrong code is held back like a password


def test_enter_at_the_password_prompt_sends_nothing(sandbox: Sandbox, home: Home) -> None:
    proc, master = spawn_with_terminal(home, ["login", "--username", "alice"])
    try:
        seen = read_until(master, b"): ")
        assert b"Bio-Prodict password for alice (" in seen
        os.write(master, b"\n")
        _out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
    assert proc.returncode == 2, err
    assert b"empty password" in err and b"nothing sent" in err
    assert sandbox.requests == []


def test_an_empty_password_on_stdin_sends_nothing(sandbox: Sandbox, home: Home) -> None:
    done = home.bp("login", "--username", "alice", "--password-stdin", input="\n")
    assert done.returncode == 2 and "empty" in one_line_error(done)
    assert sandbox.requests == []


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
