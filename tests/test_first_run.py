"""What a new user meets: token --renew/--json, status --all, errors that lead somewhere, the
login prompts, the sandbox by hand, and shell completion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .support import Home, executable, login, one_line_error, read_until, spawn_with_terminal

ALICE = DEMO_USERS["alice"]
BOB = DEMO_USERS["bob"]


def test_token_json_has_the_token_and_its_metadata(sandbox: Sandbox, home: Home) -> None:
    login(home)
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
    login(home)
    old = home.bp("token").stdout.strip()
    sandbox.revoke_access_tokens()
    assert home.bp("token").stdout.strip() == old  # still fresh in the cache
    done = home.bp("token", "--renew")
    assert done.returncode == 0, done.stderr
    new = done.stdout.strip()
    assert new != old and new == home.stored()["access_token"]
    assert len(sandbox.token_requests("refresh_token")) == 1
    assert home.stored()["refresh_token"]  # the refresh token is kept


def test_status_all_lists_every_profile_with_hosts_and_login(sandbox: Sandbox, home: Home) -> None:
    home.write_config(
        '[profiles.default]\n[profiles.staging]\nhosts = ["staging.example.org"]\n'
        '[profiles.broken]\ntimeout = "soon"\n'
    )
    login(home)
    done = home.bp("status", "--all", "--json")
    assert done.returncode == 0, done.stderr
    entries = {e["profile"]: e for e in json.loads(done.stdout)["profiles"]}
    assert list(entries) == ["default", "broken", "staging"]
    default = entries["default"]
    assert default["hosts"] == [sandbox.netloc]
    assert default["logged_in"] is True and default["username"] == "alice"
    assert isinstance(default["expires_at"], float) and default["fresh"] is True
    assert entries["staging"]["hosts"] == ["staging.example.org"]
    assert entries["staging"]["logged_in"] is False
    assert "timeout" in entries["broken"]["problem"]
    text = home.bp("status", "--all").stdout
    assert f"* default      {sandbox.netloc}" in text
    assert "staging.example.org" in text and "not logged in" in text


def test_status_json_values_are_typed(sandbox: Sandbox, home: Home) -> None:
    login(home)
    data = json.loads(home.bp("status", "--json").stdout)
    assert Path(data["config_file"]).name == "config.toml"  # a usable path, no note after it
    assert data["config_file_exists"] is False
    assert data["settings"]["timeout"]["value"] == 15.0
    assert data["settings"]["noninteractive"]["value"] is False
    assert data["settings"]["hosts"]["value"] == [sandbox.netloc]
    assert data["login"]["refresh_token"] is True
    assert isinstance(data["login"]["expires_at"], float)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_curl_help_is_the_wrappers_help(home: Home, flag: str) -> None:
    done = home.bp("curl", flag)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: bp-helper [options] curl [curl arguments...]")


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


def test_sandbox_keeps_a_stable_ca_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    home = Home.make(tmp_path / "home")
    ca = tmp_path / "stable" / "ca.pem"
    proc = subprocess.Popen(
        [executable("bp-helper"), "sandbox", "--ca-file", str(ca)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=home.env,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Press Ctrl-C" in line:
            break
    text = "".join(lines)
    assert f"export REQUESTS_CA_BUNDLE={ca}\n" in text
    assert "separate shell" in text
    temp_ca = next(line.split()[1] for line in lines if line.strip().startswith("CA "))
    assert temp_ca == str(ca) and ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Stopping the sandbox." in rest
    assert "Traceback" not in err
    assert ca.exists()  # kept: the path the user configured stays valid


def test_bash_completion_completes_commands_options_and_profiles(home: Home) -> None:
    home.write_config("[profiles.staging]\n[profiles.prod]\n")
    script = home.bp("completion", "bash")
    assert script.returncode == 0, script.stderr

    def complete(*words: str) -> list[str]:
        probe = (
            f"{script.stdout}\nCOMP_WORDS=(bp-helper {' '.join(words)}); "
            f"COMP_CWORD={len(words)}; _bp_helper; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        )
        done = subprocess.run(
            ["bash", "--norc", "-c", probe],
            capture_output=True,
            text=True,
            env={**home.env, "PATH": f"{Path(executable('bp-helper')).parent}:/usr/bin:/bin"},
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert {"setup", "config", "completion", "token"} <= set(complete(""))
    assert complete("se") == ["setup"]
    setup = complete("setup", "")
    assert {"git", "docker", "containers", "--remove", "--profile", "--help"} <= set(setup)
    assert "--renew" not in setup
    assert complete("token", "--r") == ["--renew"]
    assert complete("--profile", "") == ["default", "prod", "staging"]
    assert "client_secret" in complete("config", "set", "")


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_the_commands(home: Home, shell: str) -> None:
    done = home.bp("completion", shell)
    assert done.returncode == 0, done.stderr
    assert "setup" in done.stdout and "--renew" in done.stdout.replace("-l renew", "--renew")
    assert "bp-helper completion --profiles" in done.stdout
    assert f"bp-helper completion for {shell}" in done.stdout
