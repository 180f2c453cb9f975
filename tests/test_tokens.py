"""The token engine end to end: the installed `bp-helper` against the sandbox over HTTPS."""

from __future__ import annotations

import base64
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import certifi
import pytest
import trustme

import bp_helper
from bp_helper.engine import client
from bp_helper.errors import TokenRequestError
from bp_helper.testing import DEMO_USERS, Sandbox

from .support import (
    Home,
    expire_stored_token,
    in_process_env,
    login,
    one_line_error,
    sign_in,
    sign_out,
)

ALICE = DEMO_USERS["alice"]
BOB = DEMO_USERS["bob"]


def test_password_grant_sends_exactly_the_documented_request(sandbox: Sandbox, home: Home) -> None:
    login(home)
    (grant,) = sandbox.token_requests("password")
    assert grant.status == 200
    assert sorted(grant.form) == sorted(
        ["grant_type", "username", "password", "client_id", "client_secret"]
    )
    assert grant.form["password"] == [ALICE.password]  # &, =, +, %, space, #, Ä: unchanged
    assert grant.form["username"] == ["alice"]
    assert grant.form["client_id"] == ["bp-demo"]
    assert grant.form["client_secret"] == ["demo-secret"]
    expected = base64.b64encode(b"bp-demo:demo-secret").decode()
    assert grant.headers["authorization"] == f"Basic {expected}"
    assert grant.headers["content-type"].startswith("application/x-www-form-urlencoded")
    stored = home.stored()
    assert stored["username"] == "alice"
    assert stored["fullname"] == "Alice Example"
    assert stored["userid"] == 1001
    assert stored["refresh_token"]


def test_cached_token_makes_no_request(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    before = len(sandbox.requests)
    first = home.bp("token")
    second = home.bp("token")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout == home.stored()["access_token"] + "\n"
    assert len(sandbox.requests) == before
    assert first.stderr == ""


def test_expiry_leads_to_exactly_one_refresh_grant(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    old = home.stored()
    expire_stored_token(home)
    done = home.bp("token")
    assert done.returncode == 0, done.stderr
    (refresh,) = sandbox.token_requests("refresh_token")
    assert sorted(refresh.form) == ["grant_type", "refresh_token"]
    assert refresh.form["refresh_token"] == [old["refresh_token"]]
    new = home.stored()
    assert done.stdout.strip() == new["access_token"] != old["access_token"]
    # the server rotates refresh tokens: the one it sent back is the one kept
    assert new["refresh_token"] != old["refresh_token"]
    assert len(sandbox.token_requests("password")) == 1


def test_client_without_refresh_tokens_logs_in_again_from_env_password(
    sandbox: Sandbox, home: Home
) -> None:
    home.env.update(sandbox.env("bp-norefresh"))
    sign_in(home)
    assert home.stored()["refresh_token"] is None
    expire_stored_token(home)
    no_password = home.bp("token")
    assert no_password.returncode == 3
    assert "BIOPRODICT_PASSWORD" in one_line_error(no_password)
    done = home.bp("token", env={"BIOPRODICT_PASSWORD": ALICE.password})
    assert done.returncode == 0, done.stderr
    assert len(sandbox.token_requests("password")) == 2
    assert sandbox.token_requests("refresh_token") == []


def test_empty_client_secret_is_valid(sandbox: Sandbox, home: Home) -> None:
    home.env.update(sandbox.env("bp-public"))
    assert home.env["BIOPRODICT_CLIENT_SECRET"] == ""
    login(home)
    (grant,) = sandbox.token_requests("password")
    assert grant.form["client_secret"] == [""]
    assert grant.headers["authorization"] == "Basic " + base64.b64encode(b"bp-public:").decode()


def test_bioprodict_token_short_circuits_everything(sandbox: Sandbox, home: Home) -> None:
    done = home.bp("token", env={"BIOPRODICT_TOKEN": "ci-token-value"})
    assert (done.returncode, done.stdout) == (0, "ci-token-value\n")
    assert sandbox.requests == []
    assert not home.store_file().exists()


def test_store_files_are_private(sandbox: Sandbox, home: Home) -> None:
    login(home)
    assert stat.S_IMODE(home.store_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(home.store_file().stat().st_mode) == 0o600
    assert stat.S_IMODE((home.store_dir / "default.lock").stat().st_mode) == 0o600


@pytest.mark.slow
@pytest.mark.usefixtures("unmeasured_programs")  # a burst
def test_sixteen_concurrent_callers_share_one_refresh(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)  # a token of the server's full lifetime: the refreshed one stays fresh
    expire_stored_token(home)
    sandbox.delay = 0.5  # the refresh is slow, so every caller arrives while it runs
    with ThreadPoolExecutor(16) as pool:
        runs = list(pool.map(lambda _: home.bp("token"), range(16)))
    assert [r.returncode for r in runs] == [0] * 16, [r.stderr for r in runs]
    assert len({r.stdout for r in runs}) == 1
    assert len(sandbox.token_requests("refresh_token")) == 1
    assert len(sandbox.requests) == 2  # the login and the one refresh


@pytest.mark.parametrize(
    ("user", "password", "expected", "next_step"),
    [
        ("alice", "wrong-password", "Bad credentials", "run `bp-helper login --username alice`"),
        # a new password would not help: the step is to have the account unlocked
        ("carol", DEMO_USERS["carol"].password, "locked", "ask Bio-Prodict support"),
    ],
)
def test_refused_login_is_one_line(
    sandbox: Sandbox, home: Home, user: str, password: str, expected: str, next_step: str
) -> None:
    done = home.bp("login", "--username", user, "--password-stdin", input=password)
    assert done.returncode == 1
    line = one_line_error(done)
    assert expected in line
    assert next_step in line
    assert password not in done.stderr + done.stdout


def test_two_factor_code(sandbox: Sandbox, home: Home) -> None:
    missing = home.bp("login", "--username", "bob", "--password-stdin", input=BOB.password)
    assert missing.returncode == 1
    assert "--twofactor" in one_line_error(missing)
    assert BOB.twofactor
    done = home.bp(
        "login",
        "--username",
        "bob",
        "--password-stdin",
        "--twofactor",
        BOB.twofactor,
        input=BOB.password,
    )
    assert done.returncode == 0, done.stderr
    assert sandbox.token_requests("password")[-1].form["twofactor"] == [BOB.twofactor]
    # the code may also come from the environment
    sign_out(home)
    done = home.bp(
        "login",
        "--username",
        "bob",
        "--password-stdin",
        input=BOB.password,
        env={"BIOPRODICT_TWOFACTOR": BOB.twofactor},
    )
    assert done.returncode == 0, done.stderr


def test_rejected_client_is_one_line(sandbox: Sandbox, home: Home) -> None:
    done = home.bp(
        "login",
        "--username",
        "alice",
        "--password-stdin",
        input=ALICE.password,
        env={"BIOPRODICT_CLIENT_SECRET": "not-the-secret"},
    )
    assert done.returncode == 1
    line = one_line_error(done)
    assert "client id 'bp-demo'" in line and "HTTP 401" in line
    assert "not-the-secret" not in line


FAULTS = [  # fault, how many requests it spoils (3 for retried faults), parameters, message
    ("http500", 3, {}, "HTTP 500"),
    ("http502html", 3, {}, "HTML page"),
    ("reset", 3, {}, "cannot connect"),
    ("html200", 1, {}, "HTML page"),
    ("nonjson200", 1, {}, "non-JSON"),
    ("no_access_token", 1, {}, "without an access_token"),
    pytest.param("hang", 1, {"seconds": 10}, "did not answer within 1 s", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("fault", "count", "params", "expected"), FAULTS)
def test_server_failure_keeps_the_refresh_token(
    sandbox: Sandbox,
    home: Home,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    count: int,
    params: dict[str, object],
    expected: str,
) -> None:
    """In-process, with the back-off driven through ``client.pause`` (the real waits are
    proven by test_transient_5xx_is_retried and the outage bursts of the slow tier)."""
    home.write_config("[profiles.default]\ntimeout = 1\n")
    sign_in(home)
    good = home.stored()
    expire_stored_token(home)
    in_process_env(home, monkeypatch)
    waits: list[float] = []
    monkeypatch.setattr(client, "pause", waits.append)
    sandbox.inject(fault, count=count, **params)
    with pytest.raises(TokenRequestError) as failed:
        bp_helper.token()
    assert expected in str(failed.value) and "\n" not in str(failed.value)
    assert waits == list(client.BACKOFF[: count - 1])  # retried faults wait 0.5 s, then 1.5 s
    assert home.stored()["refresh_token"] == good["refresh_token"]
    assert bp_helper.token() == home.stored()["access_token"]
    assert sandbox.token_requests("refresh_token")[-1].status == 200


def test_transient_5xx_is_retried(sandbox: Sandbox, home: Home) -> None:
    sandbox.inject("http503", count=1)
    login(home)
    assert [r.status for r in sandbox.requests] == [503, 200]


def test_rejected_refresh_token_falls_back_to_password(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    sandbox.revoke_refresh_tokens()
    expire_stored_token(home)
    no_password = home.bp("token")
    assert no_password.returncode == 3
    one_line_error(no_password)
    assert home.stored()["refresh_token"] is None  # the rejected one is gone
    done = home.bp("token", env={"BIOPRODICT_PASSWORD": ALICE.password})
    assert done.returncode == 0
    assert [r.grant_type for r in sandbox.requests] == [
        "password",
        "refresh_token",
        "password",
    ]


def test_untrusted_store_files_are_ignored(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    path = home.store_file()
    os.chmod(path, 0o644)
    done = home.bp("token")
    assert done.returncode == 3  # not trusted, and no password to log in again
    assert "mode 0644" in done.stderr
    sign_in(home)
    path.write_text("{not json")
    os.chmod(path, 0o600)
    done = home.bp("token")
    assert "not valid JSON" in done.stderr
    assert done.returncode == 3


def test_settings_precedence_and_sources(sandbox: Sandbox, home: Home) -> None:
    config = home.write_config(
        '[profiles.default]\nclient_id = "from-config"\ntimeout = 7\nusername = "carol"\n'
        '[profiles.staging]\nclient_id = "staging-client"\n'
    )
    import json

    def report(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
        done = home.bp(*args, "status", "--json", env=env)
        assert done.returncode == 0, done.stderr
        data: dict[str, object] = json.loads(done.stdout)
        return data

    settings = report()["settings"]
    assert isinstance(settings, dict)
    assert settings["client_id"]["value"] == "bp-demo"
    assert settings["client_id"]["source"] == "env BIOPRODICT_CLIENT_ID"
    assert settings["timeout"]["value"] == 7.0  # typed: a number, not a string
    assert settings["timeout"]["shown"] == "7.0"
    assert settings["timeout"]["source"] == f"config {config} [profiles.default]"
    assert settings["username"]["value"] == "carol"
    assert settings["refresh_margin"]["source"] == "default"
    assert settings["client_secret"]["value"] == "(set)"
    settings = report("--client-id", "from-flag")["settings"]
    assert isinstance(settings, dict)
    assert settings["client_id"]["value"] == "from-flag"
    assert settings["client_id"]["source"] == "flag --client-id"
    env = {k: v for k, v in home.env.items() if k != "BIOPRODICT_CLIENT_ID"}
    home.env = env
    data = report("--profile", "staging")
    assert data["profile"] == {"value": "staging", "source": "flag --profile"}
    settings = data["settings"]
    assert isinstance(settings, dict)
    assert settings["client_id"]["value"] == "staging-client"
    data = report(env={"BIOPRODICT_PROFILE": "staging"})
    assert data["profile"] == {"value": "staging", "source": "env BIOPRODICT_PROFILE"}


def test_the_profiles_ca_bundle_wins_over_the_environments(
    sandbox: Sandbox, home: Home, tmp_path: Path
) -> None:
    """conda and corporate images set REQUESTS_CA_BUNDLE / SSL_CERT_FILE for everything; a
    profile that names its own CA bundle keeps it."""
    other = tmp_path / "other-ca.pem"
    other.write_bytes(trustme.CA().cert_pem.bytes())
    home.env.update(REQUESTS_CA_BUNDLE=str(other), SSL_CERT_FILE=str(other))
    config = home.write_config(f'[profiles.default]\nca_bundle = "{sandbox.ca_path}"\n')
    login(home)
    expire_stored_token(home)
    assert home.bp("token").returncode == 0  # the refresh too
    assert len(sandbox.token_requests("refresh_token")) == 1
    done = home.bp("status", "--json")
    shown = json.loads(done.stdout)["settings"]["ca_bundle"]
    assert shown["value"] == str(sandbox.ca_path)
    assert shown["source"] == f"config {config} [profiles.default]"


def test_profiles_keep_separate_tokens(sandbox: Sandbox, home: Home) -> None:
    home.write_config("[profiles.default]\n[profiles.other]\n")
    sign_in(home)
    done = home.bp("--profile", "other", "token")
    assert done.returncode == 3  # nothing stored for "other"
    sign_in(home, "alice", env={"BIOPRODICT_PROFILE": "other"})
    assert home.store_file("other").exists()
    assert home.stored("other")["access_token"] != home.stored()["access_token"]
    done = home.bp("logout", "--all")
    assert done.returncode == 0
    assert not home.store_file().exists() and not home.store_file("other").exists()


@pytest.mark.parametrize(
    ("args", "env", "expected", "code"),
    [
        ([], {"BIOPRODICT_CLIENT_ID": ""}, "not configured: client id of profile", 2),
        ([], {"BIOPRODICT_TOKEN_URL": "http://example.org/token"}, "https://", 2),
        (["--profile", "nope"], {}, "profile 'nope' is not in", 2),
        (["--profile", "../x"], {}, "invalid profile name", 2),
        (["--bogus"], {}, "unknown option --bogus", 2),
    ],
)
def test_bad_settings_are_one_line_usage_errors(
    sandbox: Sandbox, home: Home, args: list[str], env: dict[str, str], expected: str, code: int
) -> None:
    done = home.run([*args, "token"], env=env)
    assert done.returncode == code
    assert expected in one_line_error(done)


def test_an_unreadable_token_url_in_the_config_is_a_configuration_error(
    sandbox: Sandbox, home: Home
) -> None:
    """`https://[::1/x` made urlsplit raise ValueError: "internal error" on every command."""
    from .protocol_support import GIT, git_request, run_bytes

    del home.env["BIOPRODICT_TOKEN_URL"]
    home.write_config("[profiles.default]\ntoken_url = 'https://[::1/x'\n")
    for command in ("token", "login", "curl-config"):
        done = home.bp(command, input="")
        assert done.returncode == 2, done.stderr
        assert "token URL cannot be read" in one_line_error(done)
    status = home.bp("status")
    assert status.returncode == 2 and "internal error" not in status.stderr
    assert status.stdout.count("token URL cannot be read") == 1  # said once, not per setting
    doctor = home.bp("doctor", "--offline")
    assert doctor.returncode == 2 and "internal error" not in doctor.stderr
    assert "token URL cannot be read" in doctor.stdout
    git = run_bytes(home, GIT, ["get"], git_request(sandbox), {"BIOPRODICT_PROFILE": "default"})
    assert git.returncode == 2 and b"token URL cannot be read" in git.stderr
    assert b"internal error" not in git.stderr
    assert sandbox.requests == []


def test_bad_config_file_is_one_line(sandbox: Sandbox, home: Home) -> None:
    home.write_config("[profiles.default\n")
    done = home.bp("token")
    assert done.returncode == 2
    assert "not valid TOML" in one_line_error(done)


def git_get(home: Home, host: str, extra: str = "", **env: str) -> str:
    asked = f"protocol=https\nhost={host}\n{extra}\n"
    done = home.run(["get"], input=asked, program="git-credential-bioprodict", env=env)
    return done.stdout


def test_the_ready_made_token_serves_the_default_or_explicit_profile_only(
    sandbox: Sandbox, home: Home
) -> None:
    home.write_config("[profiles.staging]\nhosts = ['staging.example.org']\n")
    ready = {"BIOPRODICT_TOKEN": "ready-made-ci-token"}
    assert "password=ready-made-ci-token" in git_get(home, sandbox.netloc, **ready)
    assert "ready-made-ci-token" not in git_get(home, "staging.example.org", **ready)
    explicit = {**ready, "BIOPRODICT_PROFILE": "staging"}
    assert "password=ready-made-ci-token" in git_get(home, "staging.example.org", **explicit)


def test_the_ready_made_token_is_not_labelled_with_any_username(
    sandbox: Sandbox, home: Home
) -> None:
    ready = {"BIOPRODICT_TOKEN": "ready-made-ci-token"}
    answer = git_get(home, sandbox.netloc, "username=mallory\n", **ready)
    assert "ready-made-ci-token" not in answer and "username=mallory" not in answer
    named = {**ready, "BIOPRODICT_USERNAME": "ci-bot"}
    answer = git_get(home, sandbox.netloc, "username=ci-bot\n", **named)
    assert "username=ci-bot\npassword=ready-made-ci-token" in answer


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
