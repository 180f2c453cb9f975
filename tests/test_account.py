"""`bp-helper login`, `token`, `status` and `logout` (commands/account.py) as a user meets them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .support import (
    Home,
    one_line_error,
    read_until,
    sign_in,
    spawn_with_terminal,
)

ALICE = DEMO_USERS["alice"]


BOB = DEMO_USERS["bob"]


def test_token_json_has_the_token_and_its_metadata(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    done = home.bp("token", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    stored = home.stored()
    assert answer == {
        "access_token": stored["access_token"],
        "expires_at": int(stored["expires_at"]),
        "username": "alice",
        "profile": "default",
        "token_type": "bearer",
    }


def test_token_json_describes_a_ready_made_token(sandbox: Sandbox, home: Home) -> None:
    """BIOPRODICT_TOKEN has no known expiry: null, not a crash."""
    done = home.bp("token", "--json", env={"BIOPRODICT_TOKEN": "ci-token-value"})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["access_token"] == "ci-token-value"
    assert answer["expires_at"] is None
    assert answer["profile"] == "default" and answer["token_type"] == "bearer"
    assert sandbox.requests == [] and not home.store_file().exists()


def test_token_renew_gets_a_new_token_after_a_server_revoked_it(
    sandbox: Sandbox, home: Home
) -> None:
    sign_in(home)
    old = home.bp("token").stdout.strip()
    sandbox.revoke_access_tokens()
    assert home.bp("token").stdout.strip() == old  # still fresh in the cache
    done = home.bp("token", "--renew")
    assert done.returncode == 0, done.stderr
    new = done.stdout.strip()
    assert new != old and new == home.stored()["access_token"]
    assert len(sandbox.token_requests("refresh_token")) == 1
    assert home.stored()["refresh_token"]  # the refresh token is kept


def test_status_json_values_are_typed(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    data = json.loads(home.bp("status", "--json").stdout)
    assert Path(data["config_file"]).name == "config.toml"  # a usable path, no note after it
    assert data["config_file_exists"] is False
    assert data["settings"]["timeout"]["value"] == 15.0
    assert data["settings"]["noninteractive"]["value"] is False
    assert data["settings"]["hosts"]["value"] == [sandbox.netloc]
    assert data["login"]["refresh_token"] is True
    assert isinstance(data["login"]["expires_at"], float)


def test_nothing_configured_names_every_missing_setting_once(tmp_path: Path) -> None:
    bare = Home.make(tmp_path / "bare")
    expected = (
        "not configured: client id and client secret of profile 'default' (Bio-Prodict "
        "provides them): run `bp-helper config set client_id ID` and `bp-helper config set "
        "client_secret`, or set BIOPRODICT_CLIENT_ID and BIOPRODICT_CLIENT_SECRET"
    )
    for args in (["token"], ["login", "--username", "x"], ["curl-config"], ["netrc"]):
        done = bare.bp(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert one_line_error(done) == f"bp-helper: {expected}", args
    doctor = bare.bp("doctor", "--offline")
    assert f"FIX  client: {expected}" in doctor.stdout
    bare.write_config('[profiles.default]\nclient_secret = ""\n[profiles.staging]\n')
    done = bare.bp("token")
    assert "not configured: client id of profile 'default'" in one_line_error(done)
    staging = bare.bp("--profile", "staging", "token")
    assert "run `bp-helper --profile staging config set client_id ID` and" in staging.stderr


def test_a_missing_username_hints_at_the_username(sandbox: Sandbox, home: Home) -> None:
    done = home.bp("login", input=ALICE.password)
    assert done.returncode == 3
    line = one_line_error(done)
    assert "BIOPRODICT_USERNAME" in line and "--username" in line
    assert "PASSWORD" not in line
    token = home.bp("token")
    assert token.returncode == 3
    assert "BIOPRODICT_USERNAME" in one_line_error(token)
    assert "PASSWORD" not in token.stderr
    named = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"})  # then the password is next
    assert named.returncode == 3
    assert "BIOPRODICT_PASSWORD" in one_line_error(named)


def test_a_wrong_and_a_missing_two_factor_code_say_different_things(
    sandbox: Sandbox, home: Home
) -> None:
    args = ("login", "--username", "bob", "--password-stdin")
    missing = home.bp(*args, input=BOB.password)
    assert "this account needs a two-factor code" in one_line_error(missing)
    wrong = home.bp(*args, "--twofactor", "000000", input=BOB.password)
    assert wrong.returncode == 1
    assert "the two-factor code was refused" in one_line_error(wrong)


def test_a_wrong_password_at_a_terminal_is_asked_again(sandbox: Sandbox, home: Home) -> None:
    where = f"alice (profile 'default', {sandbox.netloc})"
    proc, master = spawn_with_terminal(home, ["login", "--username", "alice"])
    try:
        read_until(master, f"Bio-Prodict password for {where}: ".encode())
        os.write(master, b"typo\n")
        again = read_until(master, f"Bio-Prodict password for {where} again: ".encode())
        os.write(master, ALICE.password.encode() + b"\n")
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert b"Bad credentials" in again  # why it asks again, like ssh's "Permission denied"
    assert [r.status for r in sandbox.token_requests("password")] == [400, 200]


def test_three_wrong_passwords_end_the_login(sandbox: Sandbox, home: Home) -> None:
    proc, master = spawn_with_terminal(home, ["login", "--username", "alice"])
    shown = b""
    try:
        for _ in range(3):
            shown += read_until(master, b"): " if not shown else b") again: ")
            os.write(master, b"typo\n")
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    assert proc.returncode == 1
    assert shown.count(b"again: ") == 2
    assert b"check the username and password" in err.splitlines()[-1]
    assert len(sandbox.token_requests("password")) == 3


def test_a_cancelled_prompt_has_its_own_next_step(sandbox: Sandbox, home: Home) -> None:
    proc, master = spawn_with_terminal(home, ["login", "--username", "alice"])
    try:
        read_until(master, b"Bio-Prodict password for alice (")
        os.write(master, b"\x03")  # Ctrl-C at the prompt
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    assert proc.returncode == 130  # as for Ctrl-C anywhere
    assert err.decode().splitlines()[-1] == (
        "bp-helper: login cancelled at the prompt: nothing was sent or changed; "
        "run `bp-helper login` again when ready"
    )
    assert sandbox.token_requests() == []
    assert not home.store_file().exists()


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
