"""The OS keyring, on real keyring backends chosen through keyring's own configuration.

keyrings.alt's file backend (in the isolated data folder) stands in for a desktop keyring;
keyring's fail backend is what a headless machine has; two test backends (raising, and
never answering) live in tests/keyring_backends. Never the real user's keyring.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .support import (
    TEST_KEYRINGS,
    Home,
    expire_stored_token,
    imported_modules,
    login,
    one_line_error,
)

ALICE = DEMO_USERS["alice"]
FILE_BACKEND = "keyrings.alt.file.PlaintextKeyring"
PASSWORD = ("bp-helper:default:password", "alice")
# keyrings.alt's file backend keeps secrets unencrypted: bp-helper uses it only when told to.
CONSENT = {"BIOPRODICT_ALLOW_PLAINTEXT_KEYRING": "1"}
REFRESH = ("bp-helper:default:refresh-token", "alice")


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("bp-helper: warning:")]


def status(home: Home) -> dict[str, object]:
    done = home.bp("status", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, object] = json.loads(done.stdout)
    return data


def test_remembered_password_logs_in_again_and_logout_forgets_it(
    sandbox: Sandbox, home: Home
) -> None:
    home.use_keyring(FILE_BACKEND, **CONSENT)
    done = login(home, "alice", "--remember-password")
    assert "remembered in the keyring" in done.stdout
    (warning,) = warnings(done.stderr)  # the file backend is named for what it is
    assert "UNENCRYPTED" in warning
    assert home.keyring_get(*PASSWORD) == ALICE.password
    assert home.stored()["password_in_keyring"] is True
    assert ALICE.password not in home.store_file().read_text()
    secrets = status(home)["secrets"]
    assert isinstance(secrets, dict)
    assert secrets["password"]["source"] == "OS keyring"
    assert "bp-helper:default:password" in secrets["password"]["kept"]
    # the refresh token is gone: a non-interactive `token` logs in with the keyring's password
    sandbox.revoke_refresh_tokens()
    expire_stored_token(home)
    done = home.bp("--debug", "token")
    assert done.returncode == 0, done.stderr
    assert "password from OS keyring" in done.stderr
    assert sandbox.token_requests("password")[-1].form["password"] == [ALICE.password]
    assert home.stored()["password_in_keyring"] is True  # the choice is kept
    done = home.bp("logout")
    assert done.returncode == 0 and done.stderr == ""
    assert home.keyring_get(*PASSWORD) is None
    assert not home.store_file().exists()


def test_without_remember_password_the_keyring_is_not_used(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring("bp_test_keyrings.RaisingKeyring")
    done = login(home)
    assert done.stderr == ""  # the (raising) keyring was never asked
    assert home.stored()["password_in_keyring"] is False
    expire_stored_token(home, drop_refresh_token=True)
    assert home.bp("token").returncode == 3  # no keyring, no terminal: login needed


def test_refused_keyring_password_is_forgotten(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring(FILE_BACKEND, **CONSENT)
    login(home, "alice", "--remember-password")
    home.keyring_set(*PASSWORD, "an-old-password")  # changed on the server since
    expire_stored_token(home, drop_refresh_token=True)
    done = home.bp("token")
    assert done.returncode == 1
    line = one_line_error(done)
    assert "remembered in the OS keyring was refused" in line and "bp-helper login" in line
    assert home.keyring_get(*PASSWORD) is None
    assert home.stored()["password_in_keyring"] is False


def test_refresh_token_in_the_keyring(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring(FILE_BACKEND, **CONSENT)
    home.write_config('[profiles.default]\nrefresh_token_storage = "keyring"\n')
    login(home)
    stored = home.stored()
    assert stored["refresh_token"] is None and stored["refresh_token_in_keyring"] is True
    first = home.keyring_get(*REFRESH)
    assert first and first not in home.store_file().read_text()
    data = status(home)
    assert data["plaintext"] == ["refresh token", "access token"]  # a plaintext keyring
    assert isinstance(data["secrets"], dict)
    assert (
        "PlaintextKeyring, which keeps secrets UNENCRYPTED"
        in (data["secrets"]["refresh token"]["kept"])
    )
    # the cached path reads the access token from the file and never imports keyring
    cached = home.bp("token", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert cached.returncode == 0
    assert "keyring" not in imported_modules(cached.stderr)
    assert "bp_helper" in imported_modules(cached.stderr)
    # a refresh takes the refresh token from the keyring and puts the new one back
    expire_stored_token(home)
    done = home.bp("token")
    assert done.returncode == 0, done.stderr
    (refresh,) = sandbox.token_requests("refresh_token")
    assert refresh.form["refresh_token"] == [first]
    second = home.keyring_get(*REFRESH)
    assert second and second != first
    assert home.stored()["refresh_token"] is None
    # logout removes it from the keyring
    assert home.bp("logout").returncode == 0
    assert home.keyring_get(*REFRESH) is None


def test_headless_fail_backend_is_never_fatal_never_silent(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring("keyring.backends.fail.Keyring")
    done = login(home, "alice", "--remember-password")
    (line,) = warnings(done.stderr)
    assert "no keyring backend works here" in line and "the password is not remembered" in line
    assert len(done.stderr.splitlines()) == 1
    assert home.stored()["password_in_keyring"] is False
    assert "remembered" not in done.stdout
    # refresh_token_storage = "keyring" never falls back to plaintext: no refresh token kept
    home.write_config('[profiles.default]\nrefresh_token_storage = "keyring"\n')
    done = login(home)
    (line,) = warnings(done.stderr)
    assert "the refresh token is not kept" in line
    stored = home.stored()
    assert stored["refresh_token"] is None and stored["refresh_token_in_keyring"] is False
    assert home.bp("token").returncode == 0  # the access token still works from the file


def test_raising_backend_is_never_fatal_and_leaks_nothing(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring("bp_test_keyrings.RaisingKeyring")
    done = home.bp(
        "--debug", "login", "--username", "alice", "--password-stdin", "--remember-password",
        input=ALICE.password,
    )  # fmt: skip
    assert done.returncode == 0
    (line,) = warnings(done.stderr)
    assert "raised RuntimeError" in line and "the password is not remembered" in line
    assert ALICE.password not in done.stderr + done.stdout  # the backend put it in its message
    assert "[redacted]" in line
    # a record that says "in the keyring" while the keyring raises: logout still logs out
    data = home.stored()
    data["password_in_keyring"] = True
    home.store_file().write_text(json.dumps(data))
    done = home.bp("logout")
    assert done.returncode == 0
    (line,) = warnings(done.stderr)
    assert "the password stays in it" in line and "bp-helper:default:password" in line
    assert not home.store_file().exists()


@pytest.mark.slow
def test_a_backend_that_never_answers_is_bounded(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring("bp_test_keyrings.SleepingKeyring")
    home.write_config(
        '[profiles.default]\nkeyring_timeout = 1\nrefresh_token_storage = "keyring"\n'
    )
    started = time.monotonic()
    done = home.bp(
        "login", "--username", "alice", "--password-stdin", "--remember-password",
        input=ALICE.password, timeout=60,
    )  # fmt: skip
    assert time.monotonic() - started < 30  # it did not hang (the backend sleeps an hour)
    assert done.returncode == 0
    lines = warnings(done.stderr)
    assert lines and all("within 1 s" in line for line in lines)
    assert len(lines) == 2  # the password is not remembered; the refresh token is not kept
    assert home.bp("token").returncode == 0


def test_backend_chosen_in_keyringrc(sandbox: Sandbox, home: Home) -> None:
    """keyring's own config file (under the isolated XDG_CONFIG_HOME) selects the backend."""
    del home.env["PYTHON_KEYRING_BACKEND"]
    rc = Path(home.env["XDG_CONFIG_HOME"]) / "python_keyring" / "keyringrc.cfg"
    rc.parent.mkdir(parents=True)
    rc.write_text(
        f"[backend]\ndefault-keyring = bp_test_keyrings.RaisingKeyring\n"
        f"keyring-path = {TEST_KEYRINGS}\n"
    )
    done = login(home, "alice", "--remember-password")
    (line,) = warnings(done.stderr)
    assert "raised RuntimeError" in line
    rc.write_text(f"[backend]\ndefault-keyring = {FILE_BACKEND}\n")
    done = login(home, "alice", "--remember-password", "--allow-plaintext-keyring")
    (line,) = warnings(done.stderr)
    assert "UNENCRYPTED" in line  # said when the password is stored
    assert home.keyring_get(*PASSWORD) == ALICE.password
    assert (Path(home.env["XDG_DATA_HOME"]) / "python_keyring").is_dir()  # isolated


PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"


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
    # doctor: not OK while nobody has accepted it, and says why
    doctor = home.bp("doctor", "--offline")
    keyring_line = next(line for line in doctor.stdout.splitlines() if "keyring:" in line)
    assert keyring_line.startswith("FIX") and "not encrypted" in keyring_line, keyring_line
    assert doctor.returncode == 1
    accepted = home.bp("doctor", "--offline", env=CONSENT)
    keyring_line = next(line for line in accepted.stdout.splitlines() if "keyring:" in line)
    assert keyring_line.startswith("OK") and "UNENCRYPTED" in keyring_line, keyring_line
    secrets_line = next(line for line in accepted.stdout.splitlines() if "secrets:" in line)
    assert "plaintext on disk" in secrets_line and "password" in secrets_line.split("plaintext")[1]
