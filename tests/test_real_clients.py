"""The helpers driven by the real clients: the docker CLI, git >= 2.46 and skopeo.

Each client talks to a small HTTPS site of the tests' own (tests/real_clients_support.py)
that takes the token only in the scheme it announces, and checks it with the sandbox. The
one stand-in is the Docker Engine API, which `docker login` asks to check credentials:
no daemon runs here.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bp_helper.testing import Sandbox

from .protocol_support import path_with_helpers
from .real_clients_support import (
    DockerEngine,
    GitSite,
    Registry,
    program,
    sandbox_check,
)
from .support import Home, sign_in

pytestmark = pytest.mark.real_clients

NEW_GIT = "/opt/bp-git/bin/git"  # where .ci/install-clients.sh builds it


def run(home: Home, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**home.env, "PATH": path_with_helpers(), **env},
        timeout=120,
        start_new_session=True,
        check=False,
        cwd=home.root,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def registry(tmp_path: Path, sandbox: Sandbox, home: Home) -> Iterator[Registry]:
    site = Registry(tmp_path, sandbox_check(sandbox))
    home.env["BIOPRODICT_HOSTS"] = f"{sandbox.netloc},{site.netloc}"
    yield site
    site.close()


def test_docker_login_when_logged_in_sends_no_password(
    sandbox: Sandbox, home: Home, registry: Registry, tmp_path: Path
) -> None:
    """docker 20.10+/28: `get`, a check through the daemon, then `store` of what `get` gave."""
    docker = program("docker", "the docker CLI")
    sign_in(home)
    engine = DockerEngine(tmp_path, registry.ca_path)
    config = home.root / ".docker"
    config.mkdir()
    (config / "config.json").write_text(
        json.dumps({"credHelpers": {registry.netloc: "bioprodict"}})
    )
    try:
        done = run(
            home,
            [docker, "login", registry.netloc],
            DOCKER_CONFIG=str(config),
            DOCKER_HOST=f"unix://{engine.socket}",
        )
    finally:
        engine.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Login Succeeded" in done.stdout
    assert any(call.endswith("/auth") for call in engine.calls)  # the real sequence ran
    assert registry.schemes[-1] == "Basic"  # the daemon checked the token with the registry
    assert sandbox.token_requests("password") == sandbox.token_requests()[:1]  # the login only
    assert len(sandbox.token_requests()) == 1
    token = home.stored()["access_token"]
    assert token not in (config / "config.json").read_text()  # it went back to the helper


@pytest.mark.parametrize("scheme", ["Basic", "Bearer"])
def test_new_git_clones_from_basic_and_bearer_hosts(
    sandbox: Sandbox, home: Home, tmp_path: Path, scheme: str
) -> None:
    """git >= 2.46 announces authtype and passes the challenges on: each host gets its scheme."""
    git = program("git", "git >= 2.46, from Debian trixie's source", "BP_GIT", NEW_GIT, (2, 46))
    sign_in(home)
    site = GitSite(tmp_path, git, scheme, sandbox_check(sandbox))
    home.env["BIOPRODICT_HOSTS"] = f"{sandbox.netloc},{site.netloc}"
    (home.root / ".gitconfig").write_text(
        "[credential]\n\thelper = bioprodict\n\tuseHttpPath = false\n"
    )
    env = {"GIT_SSL_CAINFO": str(site.ca_path), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0"}  # fmt: skip
    try:
        done = run(home, [git, "clone", "-q", f"https://{site.netloc}/team.git", "clone"], **env)
    finally:
        site.close()
    assert done.returncode == 0, done.stderr
    assert (home.root / "clone" / "README").read_text() == "hello\n"
    assert scheme in site.schemes  # the token went in the scheme the host asked for
    assert set(site.schemes) <= {"", scheme}
    assert len(sandbox.token_requests()) == 1  # the login only


def test_skopeo_reads_cred_helpers_from_its_auth_file(
    sandbox: Sandbox, home: Home, registry: Registry
) -> None:
    """What `bp-helper setup containers` writes (here by hand): credHelpers in the auth file."""
    skopeo = program("skopeo", "skopeo, from Debian")
    sign_in(home)
    auth_file = home.root / "containers-auth.json"
    auth_file.write_text(json.dumps({"credHelpers": {registry.netloc: "bioprodict"}}))
    done = run(
        home,
        [
            skopeo,
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{registry.netloc}/team/app:1",
        ],
        REGISTRY_AUTH_FILE=str(auth_file),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schemaVersion"] == 2
    assert "Basic" in registry.schemes
    assert len(sandbox.token_requests()) == 1
    assert json.loads(auth_file.read_text()) == {"credHelpers": {registry.netloc: "bioprodict"}}
