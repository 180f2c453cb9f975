"""Secrets handled honestly: no empty password sent, no secret echoed by a mistyped flag, and a
plaintext keyring called what it is (and used only with consent)."""

from __future__ import annotations

import base64
import json
import os

from bp_helper.testing import DEMO_USERS, Sandbox

from .protocol_support import DOCKER, GIT, run_bytes
from .support import Home, login, one_line_error, read_until, spawn_with_terminal

ALICE = DEMO_USERS["alice"]
PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"
PASSWORD = ("bp-helper:default:password", "alice")
CONSENT = {"BIOPRODICT_ALLOW_PLAINTEXT_KEYRING": "1"}


# -- an empty password is never sent -------------------------------------------------------


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


# -- a mistyped flag never echoes what follows it ---------------------------------------------


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


# -- a plaintext keyring is not an "OS keyring" ---------------------------------------------


def test_plaintext_keyring_needs_consent(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring(PLAINTEXT)
    done = login(home, "alice", "--remember-password")
    assert home.keyring_get(*PASSWORD) is None  # not stored without consent
    assert "UNENCRYPTED" in done.stderr and "allow_plaintext_keyring" in done.stderr
    assert home.stored()["password_in_keyring"] is False
    encoded = base64.b64encode(ALICE.password.encode()).decode()
    for path in home.root.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert ALICE.password.encode() not in text and encoded.encode() not in text, path


def test_plaintext_keyring_with_consent_is_named_plainly(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring(PLAINTEXT)
    done = login(home, "alice", "--remember-password", "--allow-plaintext-keyring")
    assert home.keyring_get(*PASSWORD) == ALICE.password
    warning = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "UNENCRYPTED" in warning[0]  # said when it is stored
    assert "password" in warning[0]
    report = json.loads(home.bp("status", "--json").stdout)
    assert "password" in report["plaintext"]
    kept = report["secrets"]["password"]["kept"]
    assert "UNENCRYPTED" in kept and "PlaintextKeyring" in kept
    text = home.bp("status").stdout
    assert "password" in next(line for line in text.splitlines() if line.startswith("Plaintext"))
    # doctor: the login's consent lasts (issue 17), and doctor says whose it is
    doctor = home.bp("doctor", "--offline")
    keyring_line = next(line for line in doctor.stdout.splitlines() if "keyring:" in line)
    assert keyring_line.startswith("OK") and "UNENCRYPTED" in keyring_line, keyring_line
    assert "accepted at login with --allow-plaintext-keyring" in keyring_line
    accepted = home.bp("doctor", "--offline", env=CONSENT)
    keyring_line = next(line for line in accepted.stdout.splitlines() if "keyring:" in line)
    assert keyring_line.startswith("OK") and "UNENCRYPTED" in keyring_line, keyring_line
    secrets_line = next(line for line in accepted.stdout.splitlines() if "secrets:" in line)
    assert "plaintext on disk" in secrets_line and "password" in secrets_line.split("plaintext")[1]
