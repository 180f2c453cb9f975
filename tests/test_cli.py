"""The command line as a user meets it: prompts, the lean cached path, debug output, the demo."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .protocol_support import DOCKER, GIT, run_bytes
from .support import (
    HEAVY,
    Home,
    executable,
    imported_modules,
    one_line_error,
    read_until,
    sign_in,
    spawn_with_terminal,
)

ALICE = DEMO_USERS["alice"]


def test_cached_token_path_imports_no_network_stack(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    cached = home.bp("token", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert cached.returncode == 0
    modules = imported_modules(cached.stderr)
    assert "bp_helper" in modules  # the report is real
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))
    # ... while a refresh does import them (the test would notice a broken report)
    home.bp("logout")
    login = home.bp(
        "token",
        env={
            "PYTHONPROFILEIMPORTTIME": "1",
            "BIOPRODICT_USERNAME": "alice",
            "BIOPRODICT_PASSWORD": ALICE.password,
        },
    )
    assert login.returncode == 0
    assert {"requests", "oauthlib"} <= imported_modules(login.stderr)


def test_login_prompts_on_the_terminal_never_on_stdout(sandbox: Sandbox, home: Home) -> None:
    proc, master = spawn_with_terminal(home, ["login"])
    try:
        netloc = sandbox.netloc.encode()
        read_until(master, b"Bio-Prodict username (profile 'default', " + netloc + b"): ")
        os.write(master, b"alice\n")
        read_until(master, b"Bio-Prodict password for alice (profile 'default', " + netloc + b"): ")
        os.write(master, ALICE.password.encode() + b"\n")
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert b"Logged in to profile 'default' as Alice Example (alice)" in out
    assert b"password" not in out.lower().replace(b"the password is asked", b"")
    assert b"Bio-Prodict" not in out
    assert sandbox.token_requests("password")[0].form["password"] == [ALICE.password]


def test_two_factor_code_is_asked_on_the_terminal(sandbox: Sandbox, home: Home) -> None:
    bob = DEMO_USERS["bob"]
    assert bob.twofactor
    home.env["BIOPRODICT_PASSWORD"] = bob.password
    proc, master = spawn_with_terminal(home, ["login", "--username", "bob"])
    try:
        read_until(master, b"Two-factor code (profile 'default', ")
        os.write(master, bob.twofactor.encode() + b"\n")
        _out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert [r.status for r in sandbox.requests] == [400, 200]


def test_no_terminal_fails_fast_with_exit_3(sandbox: Sandbox, home: Home) -> None:
    started = time.monotonic()
    done = home.bp("token", input="")
    assert done.returncode == 3
    line = one_line_error(done)
    # no username anywhere: the hint is about the username, not the password variable
    assert "bp-helper login --username" in line and "BIOPRODICT_USERNAME" in line
    assert time.monotonic() - started < 10
    assert done.stdout == ""
    assert sandbox.requests == []


def test_debug_shows_decisions_and_sources(sandbox: Sandbox, home: Home) -> None:
    done = home.bp("--debug", "login", "--username", "alice", "--password-stdin", input="x")
    assert "setting client_id = bp-demo (from env BIOPRODICT_CLIENT_ID)" in done.stderr
    assert "grant_type=password" in done.stderr
    assert "Traceback" not in done.stderr


def test_version_and_help(home: Home) -> None:
    done = home.bp("--version")
    assert re.fullmatch(r"bp-helper \d+\.\d+\.\d+\n", done.stdout)
    helped = home.bp("--help")
    assert "login" in helped.stdout and "Exit status" in helped.stdout
    missing = home.bp()
    assert missing.returncode == 2
    one_line_error(missing)


@pytest.mark.slow
def test_demo_runs_from_a_fresh_home(tmp_path: Path) -> None:
    home = Home.make(tmp_path / "fresh")
    done = home.bp("demo", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all checks passed" in done.stdout
    assert not (tmp_path / "fresh" / "state").exists()  # the demo kept to its own home


def test_every_command_has_a_handler_that_imports() -> None:
    import importlib

    from bp_helper.commands.cli import COMMANDS, HANDLERS

    assert set(HANDLERS) == set(COMMANDS)
    for name, target in HANDLERS.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), name


def test_an_unknown_option_is_named_but_never_its_value(home: Home) -> None:
    done = home.bp("--profle", "x", "token")
    assert done.returncode == 2
    line = one_line_error(done)
    assert "unknown option --profle" in line and "did you mean --profile?" in line
    assert "invalid choice" not in line
    hidden = home.bp("--profle=hunter2-secret", "token")
    line = one_line_error(hidden)
    assert "--profle" in line and "hunter2" not in line
    valued = one_line_error(home.bp("--client-id", "-odd-id", "--profle", "x", "token"))
    assert "unknown option --profle" in valued  # a value after a valued option is no option
    after = home.bp("token", "--jsno", "hunter2-secret")
    line = one_line_error(after)
    assert "unknown option --jsno" in line and "did you mean --json?" in line
    assert "hunter2" not in line


def test_a_mistyped_command_gets_a_suggestion_without_an_echo(home: Home) -> None:
    done = home.bp("tokn")
    assert done.returncode == 2
    line = one_line_error(done)
    assert "did you mean 'token'?" in line and "tokn" not in line
    far = one_line_error(home.bp("hunter2-secret"))
    assert "unknown command" in far and "hunter2" not in far


def test_login_without_a_terminal_names_the_ways_to_give_a_password(
    sandbox: Sandbox, home: Home
) -> None:
    home.write_config("[profiles.sandbox]\n")
    for extra in ((), ("--non-interactive",)):
        done = home.bp("--profile", "sandbox", *extra, "login", "--username", "bob")
        assert done.returncode == 3
        line = one_line_error(done)
        assert "--password-stdin" in line and "BIOPRODICT_PASSWORD" in line
        assert "`bp-helper --profile sandbox login --username bob" in line
    # a front-end that needs a login names the profile and the user too
    got = home.bp("--profile", "sandbox", "token", env={"BIOPRODICT_USERNAME": "bob"})
    assert got.returncode == 3
    assert "`bp-helper --profile sandbox login --username bob`" in one_line_error(got)
    nobody = one_line_error(home.bp("--profile", "sandbox", "login"))
    assert "`bp-helper --profile sandbox login --username NAME`" in nobody
    assert sandbox.requests == []
    # a refused password, and what status and doctor say to do
    wrong = home.bp("--profile", "sandbox", "login", "--username", "alice", "--password-stdin",
                    input="not-her-password")  # fmt: skip
    assert "then run `bp-helper --profile sandbox login --username alice`" in one_line_error(wrong)
    status = home.bp("--profile", "sandbox", "status").stdout
    assert "nobody (run `bp-helper --profile sandbox login`)" in status
    doctor = home.bp("--profile", "sandbox", "doctor", "--offline").stdout
    assert "nobody is logged in: run `bp-helper --profile sandbox login`" in doctor


def test_each_command_s_help_lists_only_the_options_that_apply_to_it(home: Home) -> None:
    """`config --help` listed --token-url, --grant and --audience, which config never reads;
    before the command, `bp-helper` still takes every setting's flag."""
    for command, absent in (
        ("config", ("--token-url", "--client-id", "--grant", "--non-interactive")),
        ("completion", ("--profile", "--token-url", "--hosts")),
        ("sandbox", ("--profile", "--client-id")),
        ("logout", ("--token-url", "--audience")),
    ):
        text = home.bp(command, "--help").stdout
        assert text.startswith(f"usage: bp-helper {command}")
        assert not [flag for flag in absent if flag in text], (command, text)
    assert "--token-url" in home.bp("token", "--help").stdout
    assert "--profile" in home.bp("config", "--help").stdout
    refused = home.bp("config", "list", "--token-url", "https://x.example/t")
    assert "unknown option --token-url" in one_line_error(refused)
    assert home.bp("--token-url", "https://x.example/t", "config", "path").returncode == 0


def test_ctrl_c_at_a_prompt_exits_130(sandbox: Sandbox, home: Home) -> None:
    proc, master = spawn_with_terminal(home, ["login"])
    try:
        read_until(master, b"username")
        os.write(master, b"\x03")  # the terminal's interrupt character: SIGINT
        proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130
    assert proc.stderr is not None
    assert proc.stderr.read().decode().strip() == (
        "bp-helper: login cancelled at the prompt: nothing was sent or changed; "
        "run `bp-helper login` again when ready"
    )


@pytest.mark.parametrize(
    ("redirect", "said"),
    [(">&-", "standard output is closed"), ("> /dev/full", "No space left on device")],
)
def test_output_that_cannot_be_written_is_one_line(
    sandbox: Sandbox, home: Home, redirect: str, said: str
) -> None:
    sign_in(home)
    done = subprocess.run(
        ["sh", "-c", f'exec "$0" token {redirect}', executable("bp-helper")],
        capture_output=True,
        text=True,
        env=home.env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert one_line_error(done) == f"bp-helper: cannot write the output: {said}"


@pytest.mark.parametrize(
    ("program", "args", "stdin"),
    [
        ("bp-helper", ["status"], b""),
        ("bp-helper", ["token"], b""),
        ("git-credential-bioprodict", ["get"], None),
    ],
)
def test_a_reader_that_closes_the_pipe_early_is_one_line(
    sandbox: Sandbox, home: Home, program: str, args: list[str], stdin: bytes | None
) -> None:
    sign_in(home)
    asked = stdin if stdin is not None else f"protocol=https\nhost={sandbox.netloc}\n\n".encode()
    proc = subprocess.Popen(
        [executable(program), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=home.env,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before anything is written (`| head -c0`)
    _, err = proc.communicate(asked, timeout=60)
    assert proc.returncode == 1
    assert err.decode().splitlines() == [
        "bp-helper: cannot write the output: its reader closed the pipe"
    ]


def test_mistyped_flags_never_echo_their_values(sandbox: Sandbox, home: Home) -> None:
    secret = "hunter2-canary"
    for argv in (
        ["login", "--password", secret],  # was taken as --password-stdin, echoing the rest
        ["login", f"--password={secret}"],
        ["login", f"--password-stdin={secret}"],
        ["login", "--pass", secret],
        [secret],
        ["sandbox", "--port", secret],
    ):
        done = home.bp(*argv)
        assert done.returncode == 2, argv
        line = one_line_error(done)
        assert secret not in line, argv
    said = one_line_error(home.bp("login", "--password", secret))
    assert "--password-stdin" in said and "--username" in said  # which flags exist
    for program in (GIT, DOCKER):
        raw = run_bytes(home, program, [f"--password={secret}", "get"])
        assert raw.returncode == 2
        assert secret.encode() not in raw.stderr and b"--profile" in raw.stderr
    assert sandbox.requests == []


def test_a_mistyped_argument_of_a_command_gets_a_suggestion_without_an_echo(home: Home) -> None:
    for argv, meant in ((["config", "sett", "timeout", "3"], "set"), (["setup", "gti"], "git")):
        line = one_line_error(home.bp(*argv))
        assert f"did you mean {meant!r}?" in line, line
        assert argv[1] not in line.replace(f"'{meant}'", "")
