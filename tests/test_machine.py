"""Client-credentials profiles (machine accounts of the prediction API), against the sandbox.

Every front-end hands out a token the prediction-style resource accepts, for a profile that
only ``config.toml`` describes and for one that only environment variables describe; a fresh
token costs no request, an expired one exactly one client-credentials grant (never a password
or refresh grant), also for 16 callers at once; errors are one line with the next step.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bp_helper.testing import PREDICTION_AUDIENCE, Sandbox
from bp_helper.testing.auth0 import AUTH0_TOKEN_PATH

from .concurrency_support import Process
from .integration_support import run_curl
from .machine_support import (
    FRONT_ENDS,
    accepted,
    config_only_home,
    env_only_home,
    machine_request,
    token_from,
)
from .protocol_support import path_with_helpers
from .support import (
    HEAVY,
    Home,
    expire_stored_token,
    imported_modules,
    one_line_error,
    spawn_with_terminal,
)

FIELDS = {"grant_type", "client_id", "client_secret", "audience"}


def only_client_credentials(sandbox: Sandbox) -> None:
    """Every token request was a client-credentials grant at the Auth0-style endpoint."""
    seen = [(r.path, r.grant_type) for r in sandbox.requests]
    assert seen and all(s == (AUTH0_TOKEN_PATH, "client_credentials") for s in seen), seen


@pytest.fixture
def machine(tmp_path: Path, sandbox: Sandbox) -> Home:
    return env_only_home(tmp_path / "home", sandbox)


@pytest.mark.parametrize("configured_by", ["config file", "environment"])
def test_every_front_end_hands_out_a_token_the_prediction_api_accepts(
    sandbox: Sandbox, tmp_path: Path, configured_by: str
) -> None:
    if configured_by == "config file":
        home, profile = config_only_home(tmp_path / "home", sandbox), "predictions"
        assert not any(name.startswith("BIOPRODICT_") for name in home.env)
    else:
        home, profile = env_only_home(tmp_path / "home", sandbox), "default"
        assert not home.write_config("").read_text()
    tokens = {front_end: token_from(home, sandbox, front_end, profile) for front_end in FRONT_ENDS}
    assert len(set(tokens.values())) == 1, tokens  # the first got it, the others the cached one
    assert accepted(sandbox, tokens["token"])
    (grant,) = sandbox.requests  # one request: every cached call made none
    assert grant.path == AUTH0_TOKEN_PATH and grant.grant_type == "client_credentials"
    stored = home.stored(profile)
    assert stored["audience"] == PREDICTION_AUDIENCE
    assert stored["refresh_token"] is None and stored["username"] == "bp-predict"
    assert all(r.status == 200 for r in sandbox.api_requests)


def test_the_request_carries_exactly_the_documented_fields(sandbox: Sandbox, machine: Home) -> None:
    assert machine.bp("token").returncode == 0
    (request,) = sandbox.requests
    assert (request.method, request.path) == ("POST", AUTH0_TOKEN_PATH)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in request.headers  # the secret is in the body, once
    assert request.form == {
        "grant_type": ["client_credentials"],
        "client_id": ["bp-predict"],
        "client_secret": ["predict-secret"],
        "audience": [PREDICTION_AUDIENCE],
    }


def test_curl_config_the_curl_wrapper_and_netrc(sandbox: Sandbox, machine: Home) -> None:
    printed = machine.bp("curl-config")
    assert printed.returncode == 0, printed.stderr
    url = sandbox.prediction_url + "curl"
    done = run_curl(machine, "-sS", "--fail", "-K", "-", url, input=printed.stdout)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["client_id"] == "bp-predict"
    wrapped = machine.bp("curl", "-sS", "--fail", sandbox.prediction_url + "wrapped")
    assert wrapped.returncode == 0, wrapped.stderr
    assert json.loads(wrapped.stdout)["client_id"] == "bp-predict"
    token = machine.stored()["access_token"]
    netrc = machine.bp("netrc")
    assert netrc.stdout.splitlines() == [f"machine localhost login bp-predict password {token}"]
    assert len(sandbox.requests) == 1
    only_client_credentials(sandbox)


def test_expired_token_makes_one_client_credentials_grant(sandbox: Sandbox, machine: Home) -> None:
    first = machine.bp("token").stdout.strip()
    expire_stored_token(machine)
    done = machine.bp("--debug", "token")
    assert done.returncode == 0, done.stderr
    renewed = done.stdout.strip()
    assert renewed != first and accepted(sandbox, renewed)
    assert len(sandbox.requests) == 2
    only_client_credentials(sandbox)
    assert "password" not in done.stderr.lower().replace("no password", "")
    again = machine.bp("token")  # and that one is cached in turn
    assert again.stdout.strip() == renewed and len(sandbox.requests) == 2


def test_token_rejected_by_the_api_is_renewed_by_a_new_grant(
    sandbox: Sandbox, machine: Home
) -> None:
    old = token_from(machine, sandbox, "token", "default")
    sandbox.revoke_access_tokens()
    token_from(machine, sandbox, "auth", "default")  # 401, a new grant, the retry succeeds
    first, second = sandbox.api_requests
    assert (first.status, second.status) == (401, 200)
    assert first.headers["authorization"] == f"Bearer {old}"
    assert len(sandbox.requests) == 2
    only_client_credentials(sandbox)


@pytest.mark.slow
@pytest.mark.usefixtures("unmeasured_programs")  # a burst
def test_16_concurrent_callers_on_an_expired_token_make_one_grant(
    sandbox: Sandbox, machine: Home
) -> None:
    assert machine.bp("token").returncode == 0
    expire_stored_token(machine)
    sandbox.reset_counters()
    kinds = [("token", "git", "docker")[i % 3] for i in range(16)]
    callers = [Process(machine, sandbox, k, data=machine_request(sandbox, k)) for k in kinds]
    outcomes = [caller.outcome(timeout=120) for caller in callers]
    assert all(o.ok for o in outcomes), [o.stderr[-300:] for o in outcomes if not o.ok]
    assert len({o.token for o in outcomes}) == 1
    assert len(sandbox.requests) == 1
    only_client_credentials(sandbox)


def test_nothing_is_ever_asked_on_a_terminal(sandbox: Sandbox, machine: Home) -> None:
    proc, terminal = spawn_with_terminal(machine, ["token"])
    try:
        out, err = proc.communicate(timeout=60)
        shown = b""
        while True:  # what the terminal got: nothing at all
            try:
                chunk = os.read(terminal, 1024)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(terminal)
    assert proc.returncode == 0, err
    assert shown == b""
    assert accepted(sandbox, out.decode().strip())


def test_login_gets_a_token_and_takes_no_username_or_password(
    sandbox: Sandbox, machine: Home
) -> None:
    done = machine.bp("login")
    assert done.returncode == 0, done.stderr
    assert "needs no login" in done.stdout
    assert accepted(sandbox, machine.stored()["access_token"])
    refused = machine.bp("login", "--username", "someone")
    assert refused.returncode == 2
    assert "takes no username or password" in one_line_error(refused)
    refused = machine.bp("login", "--password-stdin", input="a-password")
    assert refused.returncode == 2
    refused = machine.bp("login", "--remember-password")
    assert refused.returncode == 2
    assert "takes no username or password" in one_line_error(refused)
    assert len(sandbox.requests) == 1
    assert machine.bp("logout").returncode == 0
    assert not machine.store_file().exists()


def test_status_shows_the_grant_and_the_audience(sandbox: Sandbox, machine: Home) -> None:
    assert machine.bp("token").returncode == 0
    done = machine.bp("status")
    assert done.returncode == 0, done.stderr
    assert f"Grant:          client_credentials (audience {PREDICTION_AUDIENCE})" in done.stdout
    assert "machine client bp-predict" in done.stdout
    assert "not used: the profile uses the client_credentials grant" in done.stdout
    report = json.loads(machine.bp("status", "--json").stdout)
    assert (report["grant"], report["audience"]) == ("client_credentials", PREDICTION_AUDIENCE)
    assert report["settings"]["grant"]["source"] == "env BIOPRODICT_GRANT"
    assert report["login"]["refresh_token"] is False
    assert "predict-secret" not in done.stdout + json.dumps(report)


def test_doctor_makes_a_real_grant_and_names_the_audience(sandbox: Sandbox, machine: Home) -> None:
    done = machine.bp("doctor")
    assert done.returncode == 0, done.stdout
    assert f"a token for audience '{PREDICTION_AUDIENCE}'" in done.stdout
    assert "All is well." in done.stdout
    (grant,) = sandbox.requests
    assert grant.grant_type == "client_credentials"
    wrong = machine.bp("doctor", env={"BIOPRODICT_CLIENT_SECRET": "not-the-secret"})
    assert wrong.returncode == 1
    assert "FIX  token URL: the token server rejected client id 'bp-predict'" in wrong.stdout


@pytest.mark.parametrize(
    ("change", "status", "said"),
    [
        ({"BIOPRODICT_CLIENT_SECRET": "not-the-secret"}, 1, "rejected client id 'bp-predict'"),
        ({"BIOPRODICT_AUDIENCE": "other.example.org"}, 1, "for audience 'other.example.org'"),
        ({"BIOPRODICT_AUDIENCE": None}, 2, "names no audience: set BIOPRODICT_AUDIENCE"),
        ({"BIOPRODICT_HOSTS": None}, 2, "its API hosts must be named: set BIOPRODICT_HOSTS"),
        ({"BIOPRODICT_TOKEN_URL": "http://127.0.0.1:9/oauth/token"}, 2, "must be an https://"),
        ({"BIOPRODICT_GRANT": "machine"}, 2, 'must be "password" or "client_credentials"'),
    ],
    ids=["rejected client", "unknown audience", "no audience", "no hosts", "plain http", "grant"],
)
def test_errors_are_one_line_and_keep_the_stored_token(
    sandbox: Sandbox, machine: Home, change: dict[str, str | None], status: int, said: str
) -> None:
    assert machine.bp("token").returncode == 0
    expire_stored_token(machine)
    before = machine.store_file().read_bytes()
    for name, value in change.items():
        if value is None:
            del machine.env[name]
        else:
            machine.env[name] = value
    done = machine.bp("token")
    assert done.returncode == status
    line = one_line_error(done)
    assert said in line, line
    assert "not-the-secret" not in line and "predict-secret" not in line
    assert machine.store_file().read_bytes() == before
    if status == 2:
        assert len(sandbox.requests) == 1  # a configuration error sends nothing


def test_a_token_of_another_audience_is_not_handed_out(sandbox: Sandbox, machine: Home) -> None:
    sandbox._machines.audiences.add("other.example.org")
    sandbox.add_machine_client("bp-both", "both-secret", (PREDICTION_AUDIENCE, "other.example.org"))
    machine.env.update(BIOPRODICT_CLIENT_ID="bp-both", BIOPRODICT_CLIENT_SECRET="both-secret")
    first = machine.bp("token").stdout.strip()
    other = machine.bp("token", env={"BIOPRODICT_AUDIENCE": "other.example.org"})
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() != first
    assert len(sandbox.requests) == 2
    assert machine.stored()["audience"] == "other.example.org"


def test_docker_store_takes_back_its_own_token_and_refuses_a_password(
    sandbox: Sandbox, machine: Home
) -> None:
    token = token_from(machine, sandbox, "docker", "default")
    server = f"https://{sandbox.prediction_netloc}"
    restored = {"ServerURL": server, "Username": "bp-predict", "Secret": token}
    done = machine.run(
        ["store"], input=json.dumps(restored), program="docker-credential-bioprodict"
    )
    assert done.returncode == 0, done.stdout + done.stderr  # docker re-stores what get gave it
    typed = {**restored, "Secret": "a-password"}
    done = machine.run(["store"], input=json.dumps(typed), program="docker-credential-bioprodict")
    assert done.returncode == 2
    assert "takes no username or password" in done.stdout
    assert len(sandbox.requests) == 1 and machine.stored()["access_token"] == token


def test_the_cached_path_imports_no_network_stack(sandbox: Sandbox, machine: Home) -> None:
    profile = {"PYTHONPROFILEIMPORTTIME": "1"}
    first = machine.bp("token", env=profile)  # a grant: the network stack is imported
    assert {"requests", "oauthlib"} <= imported_modules(first.stderr)
    for program, args, data in [
        ("bp-helper", ["token"], ""),
        ("git-credential-bioprodict", ["get"], machine_request(sandbox, "git").decode()),
        ("docker-credential-bioprodict", ["get"], machine_request(sandbox, "docker").decode()),
    ]:
        cached = machine.run(args, input=data, program=program, env=profile)
        assert cached.returncode == 0, cached.stderr
        modules = imported_modules(cached.stderr)
        assert "bp_helper" in modules  # the report is real
        assert modules.isdisjoint(HEAVY), (program, sorted(modules & set(HEAVY)))
    assert len(sandbox.requests) == 1


@pytest.mark.slow  # parallel jobs, then every front-end: the CI recipe end to end, 25 programs
@pytest.mark.parametrize("switched_by", ["environment", "config set"])
def test_a_profile_that_holds_a_persons_login_finds_its_machine_token(
    sandbox: Sandbox, tmp_path: Path, switched_by: str
) -> None:
    """The CI recipe on a used profile: the person's login stays in the store, yet the machine
    token is found there (one grant, then cache hits, also for parallel jobs) and shown."""
    home = Home.make(tmp_path / "home", sandbox.env("bp-demo", user="alice"))
    home.env["PATH"] = path_with_helpers()
    assert home.bp("login").returncode == 0
    del home.env["BIOPRODICT_USERNAME"], home.env["BIOPRODICT_PASSWORD"]
    machine = sandbox.machine_env()
    if switched_by == "environment":
        home.env.update(machine)
    else:
        for key in ("grant", "token_url", "audience", "hosts", "client_id"):
            value = machine[f"BIOPRODICT_{key.upper()}"]
            done = home.bp("config", "set", key, value)
            assert done.returncode == 0, done.stderr
        done = home.bp("config", "set", "client_secret", input=machine["BIOPRODICT_CLIENT_SECRET"])
        assert done.returncode == 0, done.stderr
        for name in ("BIOPRODICT_TOKEN_URL", "BIOPRODICT_CLIENT_ID", "BIOPRODICT_CLIENT_SECRET"):
            del home.env[name]
    sandbox.reset_counters()
    callers = [Process(home, sandbox, "token") for _ in range(4)]  # parallel jobs, no token yet
    outcomes = [caller.outcome(timeout=120) for caller in callers]
    assert all(o.ok for o in outcomes), [o.stderr[-300:] for o in outcomes if not o.ok]
    tokens = {o.token or "" for o in outcomes} | {home.bp("token").stdout.strip() for _ in range(4)}
    (token,) = tokens
    assert accepted(sandbox, token)
    assert {token_from(home, sandbox, front_end, "default") for front_end in FRONT_ENDS} == {token}
    assert len(sandbox.requests) == 1  # one grant; every other call found it in the store
    only_client_credentials(sandbox)
    done = home.bp("status")
    assert done.returncode == 0, done.stderr
    assert "none yet" not in done.stdout
    assert "machine client bp-predict" in done.stdout
    report = json.loads(home.bp("status", "--json").stdout)
    assert report["login"]["username"] == "bp-predict" and report["login"]["fresh"]
    overview = json.loads(home.bp("status", "--all", "--json").stdout)
    assert overview["profiles"][0]["username"] == "bp-predict"
