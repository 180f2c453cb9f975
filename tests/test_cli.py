"""The command line as a user meets it: prompts, the lean cached path, debug output, the demo."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

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
