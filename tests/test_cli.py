"""The command line as a user meets it: prompts, the lean cached path, debug output, the demo."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from bp_helper.testing import DEMO_USERS, Sandbox

from .support import Home, one_line_error, read_until, spawn_with_terminal

ALICE = DEMO_USERS["alice"]
HEAVY = ("requests", "oauthlib", "requests_oauthlib", "keyring", "urllib3")


def imported_modules(done: subprocess.CompletedProcess[str]) -> set[str]:
    """Top-level module names from a `-X importtime` report on stderr."""
    names = set()
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S.*)$", line)
        if match:
            names.add(match.group(1).strip().split(".")[0])
    return names


def test_cached_token_path_imports_no_network_stack(sandbox: Sandbox, home: Home) -> None:
    done = home.bp("login", "--username", "alice", "--password-stdin", input=ALICE.password)
    assert done.returncode == 0
    cached = home.bp("token", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert cached.returncode == 0
    modules = imported_modules(cached)
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
    assert {"requests", "oauthlib"} <= imported_modules(login)


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
