"""docker's credential-helper protocol, driven by docker-py's credentials client."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from docker import credentials
from docker.credentials import errors as docker_errors

from bp_helper.testing import DEMO_USERS, Sandbox

from .protocol_support import (
    DOCKER,
    assert_refused,
    call_api,
    path_with_helpers,
    run_bytes,
)
from .real_clients_support import program
from .support import (
    HEAVY,
    Home,
    imported_modules,
    sign_in,
)

# Every test runs against the cached path and the full path (see helper_path in conftest.py).
pytestmark = pytest.mark.usefixtures("helper_path")

ALICE = DEMO_USERS["alice"]
NOT_FOUND = b"credentials not found in native keychain\n"


@pytest.fixture
def store(home: Home, monkeypatch: pytest.MonkeyPatch) -> credentials.Store:
    """docker-py's client for `docker-credential-bioprodict`, in the test's home."""
    monkeypatch.setenv("PATH", path_with_helpers())  # docker-py looks the helper up here
    for name in list(os.environ):
        if name.startswith("BIOPRODICT_"):
            monkeypatch.delenv(name)  # docker-py passes its own environment on
    return credentials.Store("bioprodict", environment=home.env)


def test_get_and_list_after_a_login(sandbox: Sandbox, home: Home, store: credentials.Store) -> None:
    sign_in(home)
    token = home.stored()["access_token"]
    answer = store.get(sandbox.netloc)
    assert answer == {"ServerURL": sandbox.netloc, "Username": "alice", "Secret": token}
    assert store.get(f"https://{sandbox.netloc}/v2/")["Secret"] == token
    assert store.list() == {sandbox.netloc: "alice"}
    assert len(sandbox.requests) == 1  # from the cache
    assert call_api(sandbox, f"Bearer {answer['Secret']}").status_code == 200


def test_unbound_or_logged_out_is_not_found(
    sandbox: Sandbox, home: Home, store: credentials.Store
) -> None:
    with pytest.raises(docker_errors.CredentialsNotFound):
        store.get(sandbox.netloc)  # bound, but nobody is logged in
    assert store.list() == {}
    sign_in(home)
    for server in ("index.docker.io", "https://index.docker.io/v1/", "127.0.0.1:1"):
        with pytest.raises(docker_errors.CredentialsNotFound):
            store.get(server)
    raw = run_bytes(home, DOCKER, ["get"], b"registry.example.org")
    assert (raw.returncode, raw.stdout, raw.stderr) == (1, NOT_FOUND, b"")
    home.env["BIOPRODICT_HOSTS"] = f"{sandbox.netloc},registry.example.org"
    plain_http = run_bytes(home, DOCKER, ["get"], b"http://registry.example.org")
    assert (plain_http.returncode, plain_http.stdout) == (1, NOT_FOUND)
    loopback = run_bytes(home, DOCKER, ["get"], f"http://{sandbox.netloc}".encode())
    assert json.loads(loopback.stdout)["Username"] == "alice"


def test_logged_out_hint_goes_to_stderr(sandbox: Sandbox, home: Home) -> None:
    done = run_bytes(home, DOCKER, ["get"], sandbox.netloc.encode())
    assert (done.returncode, done.stdout) == (1, NOT_FOUND)
    hint = done.stderr.decode().strip()
    assert len(hint.splitlines()) == 1 and "`bp-helper login" in hint
    # containers tools' `login` writes their own auth file, and an API host has no /v2/
    assert "docker login" not in hint
    assert sandbox.requests == []


def test_store_of_a_token_it_handed_out_sends_nothing(
    sandbox: Sandbox, home: Home, store: credentials.Store
) -> None:
    """`docker login HOST` when logged in: docker stores back what `get` gave it."""
    sign_in(home)
    before = home.store_file().read_bytes()
    given = store.get(sandbox.netloc)
    store.store(sandbox.netloc, given["Username"], given["Secret"])
    store.store(f"https://{sandbox.netloc}", "someone", given["Secret"])  # any name docker uses
    assert len(sandbox.requests) == 1  # the login: no password grant with the token
    assert home.store_file().read_bytes() == before
    assert store.get(sandbox.netloc) == given


@pytest.mark.no_cached_path  # store, erase, list, version only
def test_identity_token_store(sandbox: Sandbox, home: Home) -> None:
    identity = json.dumps(
        {"ServerURL": sandbox.netloc, "Username": "<token>", "Secret": "idtoken-xyz"}
    ).encode()
    refused = run_bytes(home, DOCKER, ["store"], identity)
    assert refused.returncode == 1
    said = refused.stdout.decode()
    assert "identity token" in said and "`bp-helper login`" in said
    assert "log in with a username" not in said and "idtoken-xyz" not in said
    sign_in(home)
    before = home.store_file().read_bytes()
    accepted = run_bytes(home, DOCKER, ["store"], identity)
    assert (accepted.returncode, accepted.stdout) == (0, b"")
    assert home.store_file().read_bytes() == before
    assert len(sandbox.requests) == 1  # the login only


def test_store_is_a_password_login(sandbox: Sandbox, home: Home, store: credentials.Store) -> None:
    store.store(sandbox.netloc, "alice", ALICE.password)
    grants = sandbox.token_requests("password")
    assert len(grants) == 1 and grants[0].form["password"] == [ALICE.password]
    assert store.get(sandbox.netloc)["Secret"] == home.stored()["access_token"]
    for path in home.root.rglob("*"):  # the password itself is kept nowhere
        if path.is_file():
            assert ALICE.password.encode() not in path.read_bytes(), path


@pytest.mark.no_cached_path  # store, erase, list, version only
def test_a_refused_store_keeps_the_login(
    sandbox: Sandbox, home: Home, store: credentials.Store
) -> None:
    sign_in(home)
    before = home.store_file().read_bytes()
    with pytest.raises(docker_errors.StoreError) as refused:
        store.store(sandbox.netloc, "alice", "not-the-password")
    assert "Bad credentials" in str(refused.value)
    assert "not-the-password" not in str(refused.value)
    assert home.store_file().read_bytes() == before
    with pytest.raises(docker_errors.StoreError) as unbound:
        store.store("registry.example.org", "alice", ALICE.password)
    assert "registry.example.org" in str(unbound.value)
    assert home.store_file().read_bytes() == before


def test_store_with_two_factor(sandbox: Sandbox, home: Home, store: credentials.Store) -> None:
    bob = DEMO_USERS["bob"]
    with pytest.raises(docker_errors.StoreError) as refused:
        store.store(sandbox.netloc, "bob", bob.password)
    assert "two-factor" in str(refused.value)
    assert bob.twofactor is not None
    with_code = credentials.Store(
        "bioprodict", environment={**home.env, "BIOPRODICT_TWOFACTOR": bob.twofactor}
    )
    with_code.store(sandbox.netloc, "bob", bob.password)
    assert store.get(sandbox.netloc)["Username"] == "bob"


def test_erase_logs_out(sandbox: Sandbox, home: Home, store: credentials.Store) -> None:
    sign_in(home)
    store.erase(sandbox.netloc)
    assert not home.store_file().exists()
    with pytest.raises(docker_errors.CredentialsNotFound):
        store.get(sandbox.netloc)
    store.erase(sandbox.netloc)  # erasing nothing is fine
    with pytest.raises(docker_errors.CredentialsNotFound):
        store.erase("registry.example.org")


def test_version_and_the_bp_helper_front_end(sandbox: Sandbox, home: Home) -> None:
    version = run_bytes(home, DOCKER, ["version"])
    assert version.returncode == 0
    assert version.stdout.decode().startswith("docker-credential-bioprodict (bp-helper) ")
    sign_in(home)
    same = home.run(["docker", "get"], input=sandbox.netloc)
    assert json.loads(same.stdout)["Secret"] == home.stored()["access_token"]
    assert json.loads(home.run(["docker", "list"]).stdout) == {sandbox.netloc: "alice"}
    unknown = run_bytes(home, DOCKER, ["frobnicate"])
    assert unknown.returncode == 1 and b"unknown action" in unknown.stdout


@pytest.mark.no_cached_path  # store, erase, list, version only
def test_list_maps_each_bound_host_of_each_logged_in_profile(sandbox: Sandbox, home: Home) -> None:
    home.write_config(
        "[profiles.staging]\n"
        f"token_url = '{sandbox.token_url}'\n"
        f"hosts = ['{sandbox.netloc}', 'api.example.org']\n"
        "[profiles.idle]\nhosts = ['idle.example.org']\n"
    )
    sign_in(home)
    done = home.bp("--profile", "staging", "login", "--username", "bob", "--password-stdin",
                   "--twofactor", "246810", input=DEMO_USERS["bob"].password)  # fmt: skip
    assert done.returncode == 0, done.stderr
    listing = json.loads(run_bytes(home, DOCKER, ["list"]).stdout)
    assert listing == {sandbox.netloc: "alice", "api.example.org": "bob"}  # default first
    staging = json.loads(run_bytes(home, DOCKER, ["--profile", "staging", "list"]).stdout)
    assert staging == {sandbox.netloc: "bob", "api.example.org": "bob"}


@pytest.mark.no_cached_path  # store, erase, list, version only
def test_malformed_store_input_is_refused(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    before = home.store_file().read_bytes()
    for data in (
        b'{"ServerURL": "x"',
        b"[" * 30_000 + b"]" * 30_000,  # valid JSON, too deep to parse
        b"[" * 100_000 + b"]" * 100_000,  # too large to read
        b'{"ServerURL": "%s", "Username": "alice", "Secret": "a\\rb"}' % sandbox.netloc.encode(),
        b'{"ServerURL": "a", "ServerURL": "b", "Username": "u", "Secret": "s"}',
        b'{"ServerURL": "a", "Username": "u", "Secret": "%s"}' % (b"x" * 70_000),
        b"\xff\xfe{}",
    ):
        assert_refused(run_bytes(home, DOCKER, ["store"], data))
    assert home.store_file().read_bytes() == before
    assert len(sandbox.requests) == 1  # the login, nothing since


def test_cached_get_imports_no_network_stack(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    env = {"PYTHONPROFILEIMPORTTIME": "1"}
    done = run_bytes(home, DOCKER, ["get"], sandbox.netloc.encode(), env)
    assert done.returncode == 0 and b'"Secret"' in done.stdout
    modules = imported_modules(done.stderr.decode())
    assert "bp_helper" in modules
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.real_clients
@pytest.mark.no_cached_path  # store, erase, list, version only
def test_docker_cli_logout_erases_through_the_helper(sandbox: Sandbox, home: Home) -> None:
    """The config.json line of the README, read by the real docker CLI (no daemon needed)."""
    docker = program("docker", "the README's config.json line is read by the docker CLI")
    sign_in(home)
    docker_config = home.root / ".docker"
    docker_config.mkdir()
    (docker_config / "config.json").write_text(
        json.dumps({"credHelpers": {sandbox.netloc: "bioprodict"}})
    )
    done = subprocess.run(
        [docker, "logout", sandbox.netloc],
        capture_output=True,
        text=True,
        env={**home.env, "PATH": path_with_helpers(), "DOCKER_CONFIG": str(docker_config)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not home.store_file().exists()


@pytest.mark.no_cached_path  # store, erase, list, version only
def test_a_lone_surrogate_from_docker_is_a_local_error(sandbox: Sandbox, home: Home) -> None:
    request = (
        '{"ServerURL": "https://' + sandbox.netloc + '", "Username": "al\\ud800ice", '
        '"Secret": "' + DEMO_USERS["alice"].password + '"}'
    )
    done = home.run(["store"], input=request, program="docker-credential-bioprodict")
    assert done.returncode == 2, done.stderr
    said = (done.stdout + done.stderr).strip().splitlines()  # docker reads errors on stdout
    assert len(said) == 1 and "username is not valid text" in said[0]
    assert sandbox.token_requests() == []
    assert not (home.store_dir / "default.failed").exists()
