"""Leak-proofing: every command and protocol action, with --debug, on good and bad paths.

Canary values for the password, the client secret and the refresh and access tokens (the
sandbox issues recognisable tokens, see ``leak_support``) are looked for, in every form
they could leak in, everywhere: only the answers that exist to hand out the access token
(``token``, protocol ``get``, ``curl-config``, ``netrc``; the request to a bound host)
carry it; nothing ever shows the password, the client secret or the refresh token, in
stdout, stderr, tracebacks, files other than the token store and the keyring, or the argv
or environment of any child process (an audit hook records each one).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from bp_helper.testing import Sandbox

from .integration_support import Recorder, spy_calls, spy_curl
from .leak_support import (
    ACCESS_PREFIX,
    CLIENT_SECRET,
    MACHINE_CLIENT_ID,
    MACHINE_SECRET,
    PASSWORD,
    USERNAME,
    WRONG_PASSWORD,
    LeakWatch,
    canary_sandbox,
    spawned,
    started,
)
from .protocol_support import path_with_helpers
from .support import executable, expire_stored_token

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("unmeasured_programs")]

GIT = "git-credential-bioprodict"
DOCKER = "docker-credential-bioprodict"
UNTRUSTED_CA = {"REQUESTS_CA_BUNDLE": certifi.where(), "SSL_CERT_FILE": certifi.where()}
# BioProdictAuth in a program that logs everything at DEBUG, with bp-helper's --debug on.
AUTH_SCRIPT = """\
import logging, sys, requests, bp_helper
from bp_helper import log
logging.basicConfig(level=logging.DEBUG)
log.enable_debug()
response = requests.get(sys.argv[1], auth=bp_helper.BioProdictAuth(), timeout=30)
print(response.status_code, response.text)
"""


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The canary sandbox (replaces conftest's): canary client, user and tokens."""
    server = canary_sandbox()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def watch(sandbox: Sandbox, tmp_path: Path) -> LeakWatch:
    return LeakWatch.make(sandbox, tmp_path)


def test_logins_account_commands_and_failures_leak_nothing(
    sandbox: Sandbox, watch: LeakWatch, tmp_path: Path
) -> None:
    home = watch.home
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "password").write_text(PASSWORD + "\n")
    (inputs / "client-secret").write_text(CLIENT_SECRET + "\n")
    config = home.write_config(
        "[profiles.default]\n\n[profiles.cmd]\n"
        f"password_command = {json.dumps(['cat', str(inputs / 'password')])}\n"
        f"client_secret_command = {json.dumps(['cat', str(inputs / 'client-secret')])}\n"
        'refresh_token_storage = "keyring"\n\n'
        f"[profiles.inline]\nclient_secret = {json.dumps(CLIENT_SECRET)}\n"
    )
    config.chmod(0o600)
    login = ("login", "--username", USERNAME, "--password-stdin", "--remember-password")
    watch.bp(*login, stdin=WRONG_PASSWORD, expect=1)
    assert (home.store_dir / "default.refused").exists()
    watch.check_files()  # the backoff record holds the reason, never the password
    watch.bp(*login, stdin=PASSWORD)  # password from stdin, remembered in the keyring
    assert (home.root / "data" / "python_keyring").is_dir()
    watch.bp("token", carrier=True)
    watch.bp("status")
    watch.bp("status", "--json")
    done = watch.bp("doctor")
    assert "bp-helper:default:doctor-probe" in done.stderr  # its probe value masks nothing

    # A refresh rotates the refresh token; a store restored from before that sends the old
    # one, which the server refuses and echoes; the password then comes from the keyring.
    before = home.store_file().read_text()
    expire_stored_token(watch.home)
    watch.bp("token", carrier=True)
    home.store_file().write_text(before)
    expire_stored_token(watch.home)
    done = watch.bp("token", carrier=True)
    assert "refused the refresh token" in done.stderr
    assert "password from OS keyring" in done.stderr

    # Failures: 5xx (retried, then given up), an HTML login page, untrusted TLS, a client
    # secret refused, a 500 that a retry gets past.
    expire_stored_token(watch.home)
    sandbox.inject("http503", count=3)
    assert "unavailable (HTTP 503, an HTML page)" in watch.bp("token", expect=1).stderr
    sandbox.inject("html200")
    assert "HTTP 200 with an HTML page" in watch.bp("token", expect=1).stderr
    assert "TLS verification" in watch.bp("token", env=UNTRUSTED_CA, expect=1).stderr
    wrong_client = {"BIOPRODICT_CLIENT_SECRET": CLIENT_SECRET[:12] + "-wrong"}
    assert "rejected client id" in watch.bp("token", env=wrong_client, expect=1).stderr
    sandbox.inject("http500")
    watch.bp("token", carrier=True)

    # A revoked refresh token (echoed) and a wrong password from the environment; the right
    # one is held back (refused moments ago) until an explicit login.
    sandbox.revoke_refresh_tokens()
    expire_stored_token(watch.home)
    watch.bp("token", env={"BIOPRODICT_PASSWORD": WRONG_PASSWORD}, expect=1)
    watch.bp("token", env={"BIOPRODICT_PASSWORD": PASSWORD}, expect=1)
    watch.bp("login", "--username", USERNAME, env={"BIOPRODICT_PASSWORD": PASSWORD})
    ready_made = {"BIOPRODICT_TOKEN": home.stored()["access_token"]}
    watch.bp("token", env=ready_made, carrier=True)
    watch.bp("status", env=ready_made)

    # Another profile: password_command, client_secret_command, refresh token in the keyring.
    # (The password command runs while BIOPRODICT_CLIENT_SECRET is set, and does not get it.)
    cmd = {"unset": ["BIOPRODICT_CLIENT_SECRET"]}
    watch.bp("--profile", "cmd", "login", "--username", USERNAME)
    assert home.stored("cmd")["refresh_token"] is None
    watch.bp("--profile", "cmd", "status", "--json", **cmd)
    watch.bp("--profile", "cmd", "doctor", **cmd)
    expire_stored_token(watch.home, "cmd")
    done = watch.bp("--profile", "cmd", "token", carrier=True, **cmd)
    assert "refreshed the access token" in done.stderr
    watch.bp("--profile", "cmd", "logout", **cmd)
    # A third: the client secret in the config file.
    inline = ("--profile", "inline")
    watch.bp(*inline, "login", "--username", USERNAME, "--password-stdin", stdin=PASSWORD, **cmd)
    watch.bp(*inline, "status", **cmd)
    done = watch.bp(*inline, "doctor", **cmd)
    assert "client secret from config " in done.stdout
    watch.bp("logout")
    watch.bp("logout", "--all")

    watch.check_outputs()
    watch.check_files()
    watch.check_children(
        ("bp-helper", started("bp-helper")),
        (
            "password_command",
            spawned("subprocess.Popen", "cat", lambda a: a[0].endswith("password")),
        ),
        ("client_secret_command", spawned("subprocess.Popen", "cat", lambda a: "client" in a[0])),
    )


def test_integrations_leak_nothing(sandbox: Sandbox, watch: LeakWatch) -> None:
    home = watch.home
    curlrc, netrc = home.root / "bp.curlrc", home.root / "netrc"
    http = [executable("http"), "--ignore-stdin", "--check-status"]
    python = [sys.executable, "-c", AUTH_SCRIPT]
    # The first login happens inside BioProdictAuth, in a program that logs at DEBUG.
    account = {"BIOPRODICT_USERNAME": USERNAME, "BIOPRODICT_PASSWORD": PASSWORD}
    watch.run([*python, sandbox.api_url + "python-login"], env=account)
    assert sandbox.token_requests("password")
    with Recorder() as unbound, spy_curl(home) as spied:
        for revoked in (False, True):
            if revoked:  # the server revoked the access token: each renews it once
                sandbox.revoke_access_tokens()
            watch.run([*http, "--auth-type=bioprodict", sandbox.api_url + "httpie"])
            if revoked:
                sandbox.revoke_access_tokens()
            watch.run([*python, sandbox.api_url + "python"])
            watch.bp("token", carrier=True)
            watch.bp("curl-config", carrier=True)
            watch.bp("curl-config", "--output", str(curlrc))
            watch.bp("netrc", carrier=True)
            watch.bp("netrc", "--output", str(netrc))
            watch.bp("curl", "-sS", "--fail", sandbox.api_url + "wrapped")
            watch.bp("curl", "-sS", unbound.url, expect=2)
            watch.bp("curl", "-sS", "-K", "x", sandbox.api_url, expect=2)
            watch.run([*http, "--auth-type=bioprodict", unbound.url], expect=1)
            watch.run([*http, "-ax:y", "--auth-type=bioprodict", unbound.url], expect=1)
            watch.run([*python, unbound.url])
        watch.run([*http, "--debug", "--auth-type=bioprodict", sandbox.api_url + "debug"])
        session = ["--session=canary", "--auth-type=bioprodict", sandbox.api_url + "session"]
        watch.run([*http, *session])
        assert list((home.root / "config" / "httpie" / "sessions").rglob("canary.json"))
        redirected_401(watch, sandbox, [*http, "--follow", "--auth-type=bioprodict"], python)
        # A refresh that fails inside BioProdictAuth: the uncaught error's traceback.
        expire_stored_token(watch.home)
        done = watch.run([*python, sandbox.api_url + "tls"], env=UNTRUSTED_CA, expect=1)
        assert "Traceback" in done.stderr and "TLS verification" in done.stderr
        tls = [*http, "--auth-type=bioprodict", sandbox.api_url + "tls"]
        assert "TLS verification" in watch.run(tls, env=UNTRUSTED_CA, expect=1).stderr
        broken_tokens(watch, sandbox, [*http, "--auth-type=bioprodict"], python)
        curl_calls = spy_calls(spied)
    watch.check_outputs()
    watch.check_files(may_hold_access_token=(curlrc, netrc))
    watch.check_children(
        ("HTTPie", started("http")),
        ("BioProdictAuth's script", lambda r: r["event"] == "start" and AUTH_SCRIPT in r["argv"]),
        ("curl --help all", spawned("subprocess.Popen", "curl", lambda a: a == ["--help", "all"])),
        (
            "curl with its config on a pipe",
            spawned("os.exec", "curl", lambda a: a[:2] == ["-q", "-K"]),
        ),
    )
    never, access = watch.fragments()
    secrets = set().union(*never.values())
    assert curl_calls
    for argv, environment in curl_calls:  # what curl itself got: no secret, not even inherited
        assert not any(f in "\0".join(argv + environment) for f in secrets | access), argv
    for seen in unbound.seen:  # the unbound host got nothing
        assert "authorization" not in seen.headers
        sent = json.dumps(seen.headers) + seen.path + seen.body.decode()
        assert not any(f in sent for f in secrets | access), seen
    statuses = [r.status for r in sandbox.api_requests]
    assert 401 in statuses and 200 in statuses  # a revoked token was sent, then a new one
    for request in sandbox.api_requests:  # the bound host got the access token, nothing else
        assert request.headers["authorization"].startswith("Bearer " + ACCESS_PREFIX)
        sent = json.dumps(request.headers) + request.path + request.raw_body.decode()
        assert not any(f in sent for f in secrets), request


def redirected_401(watch: LeakWatch, sandbox: Sandbox, http: list[str], python: list[str]) -> None:
    """A bound host redirects to one that is not, which answers 401 invalid_token: the token
    is not renewed, and neither the old nor a new one goes there."""
    with Recorder(reject_tokens=True) as other, Recorder(redirect_to=other.url[:-1]) as bound:
        hosts = {"BIOPRODICT_HOSTS": f"{sandbox.netloc},{bound.netloc}"}
        refreshes = len(sandbox.token_requests("refresh_token"))
        for tool in (python, http):
            watch.run([*tool, bound.url + "moved"], env=hosts, expect=None)
        assert [s.path for s in other.seen] == ["/moved", "/moved"]
        assert all("authorization" not in s.headers for s in other.seen)
        assert all(s.headers["authorization"].startswith("Bearer ") for s in bound.seen)
        assert len(sandbox.token_requests("refresh_token")) == refreshes


def broken_tokens(watch: LeakWatch, sandbox: Sandbox, http: list[str], python: list[str]) -> None:
    """A token with a line break (a pasted variable, a tampered store, a hostile server) is
    refused before anything can quote it: no error message or traceback shows it."""
    api = sandbox.api_url + "broken"
    pasted = {"BIOPRODICT_TOKEN": f"{ACCESS_PREFIX}pasted\nX-Injected: 1"}
    data = watch.home.stored()
    data.update(access_token=f"{ACCESS_PREFIX}stored\r\nX-Injected: 1", expires_at=2e9)
    for env, code in ((pasted, 2), ({}, 1)):  # 2: a bad setting; 1: a bad stored token
        if not env:
            watch.home.store_file().write_text(json.dumps(data))
        for tool in (python, http):
            done = watch.run([*tool, api], env=env, expect=1)
            assert "no access token has" in done.stderr
        for args in (["token"], ["curl-config"], ["netrc"], ["curl", "-sS", api]):
            watch.bp(*args, env=env, expect=code)
        watch.bp(
            "git", "get", stdin=f"protocol=https\nhost={sandbox.netloc}\n", env=env, expect=code
        )
        watch.bp("docker", "get", stdin=sandbox.netloc, env=env, expect=code)
    assert not sandbox.api_requests[-1].path.endswith("broken")  # nothing was sent


def test_credential_helpers_leak_nothing(sandbox: Sandbox, watch: LeakWatch) -> None:
    home = watch.home

    def docker_login(secret: str) -> str:
        return json.dumps({"ServerURL": sandbox.netloc, "Username": USERNAME, "Secret": secret})

    watch.helper(DOCKER, "store", stdin=docker_login(WRONG_PASSWORD), expect=1)
    watch.helper(DOCKER, "store", stdin=docker_login(PASSWORD))
    watch.helper(DOCKER, "get", stdin=sandbox.netloc, carrier=True)
    watch.helper(DOCKER, "list")
    watch.helper(DOCKER, "version")
    watch.bp("docker", "get", stdin=sandbox.netloc, carrier=True)
    request = f"protocol=https\nhost={sandbox.netloc}\n"
    watch.helper(GIT, "get", stdin="capability[]=authtype\n" + request, carrier=True)
    watch.bp("git", "get", stdin=request, carrier=True)
    token = home.stored()["access_token"]
    watch.helper(GIT, "store", stdin=f"{request}username={USERNAME}\npassword={token}\n")
    watch.helper(GIT, "erase", stdin=f"{request}password={token}\n")
    watch.helper(GIT, "get", stdin=request, carrier=True)  # a refresh

    # Real git, with the helper in --debug mode; a revoked token is rejected and renewed.
    (home.root / ".gitconfig").write_text(
        "[credential]\n\thelper = bioprodict --debug\n\tuseHttpPath = false\n"
    )
    git_env = {"PATH": path_with_helpers(), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
    wanted = f"url=https://{sandbox.netloc}/repo.git\n\n"
    fill = ["git", "credential", "fill"]
    filled = watch.run(fill, stdin=wanted, env=git_env, carrier=True)
    sandbox.revoke_access_tokens()
    watch.run(["git", "credential", "reject"], stdin=filled.stdout, env=git_env)
    renewed = watch.run(fill, stdin=wanted, env=git_env, carrier=True)
    assert renewed.stdout != filled.stdout  # the rejected token was dropped and replaced
    watch.run(["git", "credential", "approve"], stdin=renewed.stdout, env=git_env)

    # The refresh token refused (the server echoes it) and nobody to give a password.
    sandbox.revoke_refresh_tokens()
    expire_stored_token(watch.home)
    done = watch.helper(GIT, "get", stdin=request)
    assert done.stdout == "" and "no token for" in done.stderr
    watch.helper(DOCKER, "get", stdin=sandbox.netloc, expect=1)
    watch.run(fill, stdin=wanted, env=git_env, expect=128)
    watch.helper(GIT, "get", stdin=request + "username=x\rpassword=y\n", expect=2)
    watch.helper(DOCKER, "erase", stdin=sandbox.netloc)

    watch.check_outputs()
    watch.check_files()
    watch.check_children(
        ("the git helper started by git", started(GIT)),
        ("the docker helper", started(DOCKER)),
    )


def test_machine_profiles_leak_nothing(sandbox: Sandbox, watch: LeakWatch, tmp_path: Path) -> None:
    """A client-credentials profile from the environment, and one from the config file with
    client_secret_command: every command and helper, a renewal, refusals, with --debug."""
    home = watch.home
    machine = sandbox.machine_env(MACHINE_CLIENT_ID)
    home.env.update({k: v for k, v in machine.items() if k.startswith("BIOPRODICT_")})
    secret = tmp_path / "machine-secret"
    secret.write_text(MACHINE_SECRET + "\n")
    home.write_config(
        "[profiles.predictions]\n"
        'grant = "client_credentials"\n'
        f'token_url = "{sandbox.machine_token_url}"\n'
        f'audience = "{machine["BIOPRODICT_AUDIENCE"]}"\n'
        f'hosts = ["other.{sandbox.prediction_netloc}"]\n'
        f'client_id = "{MACHINE_CLIENT_ID}"\n'
        f"client_secret_command = {json.dumps(['cat', str(secret)])}\n"
    ).chmod(0o600)
    host = sandbox.prediction_netloc
    python = [sys.executable, "-c", AUTH_SCRIPT]
    watch.run([*python, sandbox.prediction_url + "python"])  # the first grant, logged at DEBUG
    watch.bp("token", carrier=True)
    watch.bp("login")
    watch.bp("status")
    watch.bp("status", "--json")
    watch.bp("doctor")
    watch.helper(GIT, "get", stdin=f"protocol=https\nhost={host}\n\n", carrier=True)
    watch.helper(DOCKER, "get", stdin=f"https://{host}", carrier=True)
    watch.bp("curl-config", carrier=True)
    watch.bp("curl", "-sS", "--fail", sandbox.prediction_url + "wrapped")
    expire_stored_token(watch.home)
    watch.bp("token", carrier=True)
    sandbox.revoke_access_tokens()
    watch.run([*python, sandbox.prediction_url + "renewed"])
    wrong = {"BIOPRODICT_CLIENT_SECRET": MACHINE_SECRET[:12] + "-wrong"}
    expire_stored_token(watch.home)
    assert "rejected client id" in watch.bp("token", env=wrong, expect=1).stderr
    assert "Unauthorized" in watch.bp("doctor", env=wrong, expect=1).stdout
    audience = {"BIOPRODICT_AUDIENCE": "unknown.example.org"}
    assert "unknown.example.org" in watch.bp("token", env=audience, expect=1).stderr
    sandbox.inject("http503", count=3)
    assert "unavailable" in watch.bp("token", expect=1).stderr
    cmd = {"unset": [name for name in machine if name.startswith("BIOPRODICT_")]}
    profile = ("--profile", "predictions")
    watch.bp(*profile, "token", carrier=True, **cmd)
    watch.bp(*profile, "status", **cmd)
    watch.bp(*profile, "doctor", **cmd)
    watch.bp(*profile, "logout", **cmd)
    watch.bp("logout")

    watch.check_outputs()
    watch.check_files()
    watch.check_children(
        ("BioProdictAuth's script", lambda r: r["event"] == "start" and AUTH_SCRIPT in r["argv"]),
        ("client_secret_command", spawned("subprocess.Popen", "cat", lambda a: "machine" in a[0])),
    )
