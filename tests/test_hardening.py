"""The guarantees under stress: odd answers, hostile files, killed lock holders, fuzzed config."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import certifi
import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bp_helper.config.settings import Settings
from bp_helper.config.table import BY_NAME
from bp_helper.errors import BpError
from bp_helper.testing import DEMO_USERS, Sandbox

from .support import Home, executable, expire_stored_token, login, one_line_error

ALICE = DEMO_USERS["alice"]


# -- odd answers from the token server ------------------------------------------------


def test_huge_expires_in_is_bounded(sandbox: Sandbox, home: Home) -> None:
    sandbox.inject("expires_in", value=10**12)
    login(home)
    stored = home.stored()
    lifetime = stored["expires_at"] - stored["obtained_at"]
    assert 300 * 86400 < lifetime <= 366 * 86400


def test_negative_expires_in_hands_out_once_then_refreshes(sandbox: Sandbox, home: Home) -> None:
    sandbox.inject("expires_in", value=-5)
    done = home.bp("login", "--username", "alice", "--password-stdin", input=ALICE.password)
    assert done.returncode == 0
    assert "expires_in=-5" in done.stderr
    token = home.bp("token")
    assert token.returncode == 0  # the stale token is refreshed, not handed out
    assert len(sandbox.token_requests("refresh_token")) == 1
    assert token.stdout.strip() == home.stored()["access_token"]


def test_untrusted_certificate_is_one_line(sandbox: Sandbox, home: Home, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(trustme.CA().cert_pem.bytes())
    done = home.bp(
        "login",
        "--username",
        "alice",
        "--password-stdin",
        input=ALICE.password,
        env={"REQUESTS_CA_BUNDLE": str(other_ca)},
    )
    assert done.returncode == 1
    line = one_line_error(done)
    assert "TLS verification" in line and f"{other_ca} (from env REQUESTS_CA_BUNDLE)" in line
    assert "_ssl.c" not in line and line.count("(") == line.count(")")
    assert "ca_bundle" in line  # how to trust another CA for this profile alone
    assert sandbox.requests == []  # nothing was sent over the untrusted connection
    # the profile's own (wrong) bundle: named as such, and not the advice to set it
    config = home.write_config(f'[profiles.default]\nca_bundle = "{other_ca}"\n')
    done = home.bp("login", "--username", "alice", "--password-stdin", input=ALICE.password)
    line = one_line_error(done)
    assert f"{other_ca} (from the profile's ca_bundle, config {config}" in line
    assert "verify=bp_helper.ca_bundle(" in line  # what Python calls to the API need
    assert "set ca_bundle" not in line and "point REQUESTS_CA_BUNDLE" not in line
    # nothing set: the file requests falls back on, CURL_CA_BUNDLE's or its own
    home.write_config("[profiles.default]\n")
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        home.env.pop(name)
    home.env["CURL_CA_BUNDLE"] = str(other_ca)
    done = home.bp("login", "--username", "alice", "--password-stdin", input=ALICE.password)
    assert f"with CA file {other_ca} (from env CURL_CA_BUNDLE" in one_line_error(done)
    del home.env["CURL_CA_BUNDLE"]
    done = home.bp("login", "--username", "alice", "--password-stdin", input=ALICE.password)
    line = one_line_error(done)
    assert f"with the default CA file {certifi.where()} (no ca_bundle" in line
    assert sandbox.requests == []


# -- hostile files ------------------------------------------------------------------------


def test_symlinked_store_file_is_not_followed(sandbox: Sandbox, home: Home) -> None:
    login(home)
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
    login(home)
    os.chown(home.store_file(), 12345, 12345)
    done = home.bp("token")
    assert done.returncode == 3
    assert "owned by uid 12345" in done.stderr


def test_store_folder_open_to_others_is_reported_then_tightened(
    sandbox: Sandbox, home: Home
) -> None:
    login(home)
    os.chmod(home.store_dir, 0o755)
    done = home.bp("token")
    # reported, then tightened; the file itself passed its own checks (ours, 0600, no link)
    assert "mode 0755" in done.stderr
    assert home.store_dir.stat().st_mode & 0o777 == 0o700
    assert done.returncode == 0
    assert done.stdout.strip() == home.stored()["access_token"]


def test_oversized_store_file_is_not_read(sandbox: Sandbox, home: Home) -> None:
    login(home)
    home.store_file().write_bytes(b" " * (2 << 20))
    done = home.bp("token")
    assert done.returncode == 3
    assert "too large" in done.stderr


@pytest.mark.parametrize("profile", ["a b", "x/y", "..", "-rf", "é" * 3, "p" * 65, ""])
def test_odd_profile_names_are_refused(home: Home, profile: str) -> None:
    done = home.bp("--profile", profile, "token")
    assert done.returncode == 2
    line = one_line_error(done)
    assert "profile" in line
    assert not home.store_dir.exists()


@pytest.mark.parametrize("username", ["al ice", "a=b&c", "ünï", "x" * 300, "-alice"])
def test_odd_usernames_are_refused_cleanly(sandbox: Sandbox, home: Home, username: str) -> None:
    done = home.bp("login", f"--username={username}", "--password-stdin", input=ALICE.password)
    assert done.returncode == 1
    assert "Bad credentials" in one_line_error(done)
    assert sandbox.token_requests("password")[0].form["username"] == [username]


# -- a lock holder that dies ------------------------------------------------------------


def test_killed_lock_holder_does_not_block_others(sandbox: Sandbox, home: Home) -> None:
    login(home)
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


# -- the config loader, fuzzed ----------------------------------------------------------

TOML_PIECES = st.sampled_from(
    [
        "[profiles.default]\n",
        "[profiles]\n",
        "profiles = 3\n",
        "[profiles.default.x]\n",
        'token_url = "https://h/t"\n',
        'token_url = "http://h/t"\n',
        "token_url = 5\n",
        'hosts = ["a", "b:1"]\n',
        'hosts = "a,,b"\n',
        "hosts = []\n",
        'hosts = ["a/b"]\n',
        "timeout = -1\n",
        "timeout = 1e999\n",
        'timeout = "x"\n',
        "refresh_margin = true\n",
        'client_secret_command = ["echo", 1]\n',
        "client_id = {}\n",
        'unknown = "v"\n',
        "=\n",
        '"\n',
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(TOML_PIECES, max_size=8), noise=st.binary(max_size=40))
def test_config_loader_never_crashes(tmp_path: Path, pieces: list[str], noise: bytes) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes("".join(pieces).encode() + noise)
    settings_ = Settings(environ={"BIOPRODICT_CONFIG": str(config), "BIOPRODICT_CLIENT_ID": "c"})
    for name in BY_NAME:
        try:
            settings_.resolve(name)
        except BpError as exc:
            assert "\n" not in exc.message
