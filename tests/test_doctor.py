"""``bp-helper doctor`` against the sandbox: a healthy setup, and broken ones it names."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from bp_helper.testing import Sandbox

from .support import (
    Home,
    login,
    one_line_error,
    sign_in,
)

Breakage = Callable[[Sandbox, Home], None]


def doctor(
    home: Home, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    done = home.bp("doctor", *args, env=env)
    assert "Traceback" not in done.stderr
    lines = {}
    for line in done.stdout.splitlines():
        if line[:3] in ("OK ", "FIX"):
            name, _, text = line[5:].partition(": ")
            lines[name] = f"{line[:3].strip()} {text}"
    return done, lines


def test_healthy_setup_is_all_ok(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring("keyrings.alt.file.PlaintextKeyring")
    home.write_config(
        '[profiles.default]\nrefresh_token_storage = "keyring"\nallow_plaintext_keyring = true\n'
    )
    login(home, "alice", "--remember-password")
    before = len(sandbox.token_requests("password"))
    done, lines = doctor(home)
    assert done.returncode == 0, done.stdout
    assert set(lines) == {
        "config", "client", "token store", "secrets", "keyring", "login", "token URL", "clock",
    }  # fmt: skip
    assert all(text.startswith("OK ") for text in lines.values()), lines
    assert "All is well." in done.stdout
    assert "keyrings.alt.file.PlaintextKeyring, which keeps secrets UNENCRYPTED" in lines["keyring"]
    assert "works (accepted by allow_plaintext_keyring)" in lines["keyring"]
    assert "password from OS keyring" in lines["secrets"]
    assert "plaintext on disk: password, refresh token, access token" in lines["secrets"]
    assert "accepts the client" in lines["token URL"]
    assert len(sandbox.token_requests("password")) == before  # it never logs in
    assert home.keyring_get("bp-helper:default:doctor-probe", "bp-helper") is None  # cleaned up


def test_doctor_names_a_config_folder_others_can_write(home: Home) -> None:
    path = home.write_config('[profiles.default]\nclient_id = "bp-demo"\n')
    path.parent.chmod(0o777)
    done, lines = doctor(home, "--offline")
    assert done.returncode != 0
    assert lines["config"].startswith("FIX")
    assert f"chmod go-w {path.parent}" in lines["config"]
    path.parent.chmod(0o700)  # and a folder above it, as `mkdir -p` made it under umask 000
    (home.root / "config").chmod(0o777)
    done, lines = doctor(home, "--offline")
    assert lines["config"].startswith("FIX")
    assert f"{home.root / 'config'} is writable by others" in lines["config"]


def test_not_logged_in_but_a_password_source_is_ok(sandbox: Sandbox, home: Home) -> None:
    done, lines = doctor(home, "--offline")
    assert done.returncode == 1
    assert lines["login"].startswith("FIX nobody is logged in: run `bp-helper login`")
    done, lines = doctor(home, "--offline")
    home.env["BIOPRODICT_PASSWORD"] = "whatever"
    done, lines = doctor(home, "--offline")
    assert done.returncode == 0, done.stdout
    assert "password from env BIOPRODICT_PASSWORD" in lines["login"]
    assert lines["token URL"] == "OK not checked (--offline)"
    assert lines["keyring"].startswith("OK not used by this profile (no keyring backend")


def _no_client_id(sandbox: Sandbox, home: Home) -> None:
    del home.env["BIOPRODICT_CLIENT_ID"]


def _open_store_dir(sandbox: Sandbox, home: Home) -> None:
    home.store_dir.chmod(0o755)


def _unreachable_token_url(sandbox: Sandbox, home: Home) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home.env["BIOPRODICT_TOKEN_URL"] = f"https://127.0.0.1:{port}/oauth/oauth/token"
    home.env["BIOPRODICT_HOSTS"] = f"127.0.0.1:{port}"


def _clock_off(sandbox: Sandbox, home: Home) -> None:
    sandbox.clock_offset = -600.0  # the server's clock is 10 minutes behind ours


def _wrong_client_secret(sandbox: Sandbox, home: Home) -> None:
    home.env["BIOPRODICT_CLIENT_SECRET"] = "not-the-secret"


def _keyring_gone(sandbox: Sandbox, home: Home) -> None:
    home.use_keyring("keyring.backends.fail.Keyring")
    home.write_config('[profiles.default]\nrefresh_token_storage = "keyring"\n')


def _readable_config_with_secret(sandbox: Sandbox, home: Home) -> None:
    home.write_config('[profiles.default]\nclient_secret = "demo-secret"\n').chmod(0o644)


def _corrupt_token_file(sandbox: Sandbox, home: Home) -> None:
    home.store_file().write_text("{not json")


@pytest.mark.parametrize(
    ("breakage", "check", "expected", "status"),
    [
        (_no_client_id, "client", "not configured: client id of profile 'default'", 2),
        (_open_store_dir, "token store", "has mode 0755 (expected 0700; run chmod 700", 1),
        (_corrupt_token_file, "token store", "not valid JSON; run `bp-helper logout`", 1),
        (_unreachable_token_url, "token URL", "cannot connect to the token server", 1),
        (_clock_off, "clock", "the local clock is 600 s ahead of the token server's", 1),
        (_wrong_client_secret, "token URL", "refused client id 'bp-demo' (HTTP 401, ", 1),
        (_keyring_gone, "keyring", "no keyring backend works here", 1),
        (_readable_config_with_secret, "config", "holds client_secret but has mode 0644", 1),
    ],
)
def test_broken_setups_are_named(
    sandbox: Sandbox, home: Home, breakage: Breakage, check: str, expected: str, status: int
) -> None:
    """Exit status 2 when a problem is a configuration error, as for every command; else 1."""
    sign_in(home)
    breakage(sandbox, home)
    done, lines = doctor(home)
    assert done.returncode == status, done.stdout
    assert check in lines, (done.stdout, done.stderr)
    assert lines[check].startswith("FIX "), lines
    assert expected in lines[check]
    fixes = [name for name, text in lines.items() if text.startswith("FIX")]
    assert check in fixes and "problem(s) to fix" in done.stdout
    if check == "token URL" and "cannot connect" in expected:
        assert lines["clock"].startswith("FIX not checked")


def test_a_client_refused_with_a_bearer_challenge_is_named(tmp_path: Path) -> None:
    """django-oauth-toolkit refuses a bad client with 401 invalid_client and a Bearer
    challenge: doctor says so, as the token requests do, instead of "All is well"."""
    with Sandbox(bearer_client_errors=True) as dot:
        home = Home.make(tmp_path / "home", dot.env("bp-demo"))
        sign_in(home)
        done, lines = doctor(home)
        assert done.returncode == 0, done.stdout  # the right secret: all is well
        _wrong_client_secret(dot, home)
        done, lines = doctor(home)
        refused = home.bp("token", "--renew")
    assert done.returncode == 1, done.stdout
    assert lines["token URL"].startswith("FIX "), lines
    assert "refused client id 'bp-demo' (HTTP 401, invalid_client)" in lines["token URL"]
    assert "All is well" not in done.stdout
    assert "rejected client id 'bp-demo' (HTTP 401, invalid_client)" in one_line_error(refused)


def test_the_profiles_ca_bundle_is_the_one_checked(
    sandbox: Sandbox, home: Home, tmp_path: Path
) -> None:
    sign_in(home)
    other = tmp_path / "other-ca.pem"
    other.write_bytes(trustme.CA().cert_pem.bytes())
    home.env.update(REQUESTS_CA_BUNDLE=str(other), SSL_CERT_FILE=str(other))
    config = home.write_config(f'[profiles.default]\nca_bundle = "{sandbox.ca_path}"\n')
    done, lines = doctor(home)
    assert lines["token URL"].startswith("OK "), done.stdout
    trusted = f"CA file {sandbox.ca_path} (from the profile's ca_bundle, config {config}"
    assert trusted in lines["token URL"]


def test_invalid_config_stops_early(sandbox: Sandbox, home: Home) -> None:
    home.write_config("[profiles.default\n")
    done, lines = doctor(home)
    assert done.returncode == 2  # a configuration error, as for every other command
    assert list(lines) == ["config"] and "not valid TOML" in lines["config"]
    assert "Fix the configuration first" in done.stdout


def test_a_missing_keyring_library_is_named_once_with_what_installs_it(
    sandbox: Sandbox, home: Home, tmp_path: Path
) -> None:
    """The hint is said once, in the form that works for this install (not the package index's
    `pip install 'bp-helper[keyring]'`: bp-helper is installed from a checkout or a wheel)."""
    sign_in(home)
    shadow = tmp_path / "no-keyring" / "keyring"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no keyring here', name='keyring')\n")
    home.env["PYTHONPATH"] = str(shadow.parent)
    home.write_config('[profiles.default]\nrefresh_token_storage = "keyring"\n')
    done, lines = doctor(home, "--offline")
    hint = f"{sys.executable} -m pip install keyring"
    assert "the keyring library is not installed" in lines["keyring"]
    assert done.stdout.count(hint) == 1, done.stdout
    assert "bp-helper[keyring]" not in done.stdout


def test_each_problem_is_said_once_and_only_what_happened(sandbox: Sandbox, home: Home) -> None:
    """A refused client answered (so the clocks are compared); a missing client id is said
    under "client" alone, and the token URL is then not asked, which is not "did not answer"."""
    sign_in(home)
    done, lines = doctor(home, env={"BIOPRODICT_CLIENT_SECRET": "not-the-secret"})
    assert "refused client id 'bp-demo'" in lines["token URL"]
    assert lines["clock"].startswith("OK within"), lines["clock"]
    del home.env["BIOPRODICT_CLIENT_ID"]
    done, lines = doctor(home)
    assert done.stdout.count("not configured: client id") == 1, done.stdout
    assert "not checked" in lines["token URL"] and "client" in lines["token URL"]
    assert "did not answer" not in lines["clock"] and "not asked" in lines["clock"]


def test_a_machine_profile_missing_hosts_and_audience_hears_of_both(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = sandbox.machine_env()
    del env["BIOPRODICT_HOSTS"], env["BIOPRODICT_AUDIENCE"]
    machine = Home.make(tmp_path / "machine", env)
    for done in (machine.bp("token"), machine.bp("doctor", "--offline")):
        assert done.returncode == 2
        said = done.stdout + done.stderr
        assert "BIOPRODICT_HOSTS" in said and "BIOPRODICT_AUDIENCE" in said, said
    assert sandbox.requests == []


def test_doctor_reports_an_ancestor_others_can_write(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    (home.root / "state").chmod(0o777)
    done = home.bp("doctor")
    assert done.returncode != 0
    assert f"{home.root / 'state'} is writable by others (mode 0777)" in done.stdout + done.stderr
