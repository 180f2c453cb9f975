"""Plumbing for the client-credentials tests: machine profiles, and every front-end using one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

from docker import credentials

from bp_helper.testing import PREDICTION_AUDIENCE, Sandbox

from .protocol_support import GIT, attributes, path_with_helpers
from .support import Home

FRONT_ENDS = ("token", "git", "docker", "httpie", "auth")
# BioProdictAuth as a user's script uses it: no profile named, the host picks it.
AUTH_SCRIPT = """\
import sys, requests, bp_helper
url, ca = sys.argv[1:3]
response = requests.get(url, auth=bp_helper.BioProdictAuth(), verify=ca, timeout=30)
print(response.status_code, response.text)
"""


def env_only_home(root: Path, sandbox: Sandbox) -> Home:
    """A machine profile configured by environment variables alone (profile ``default``)."""
    home = Home.make(root, sandbox.machine_env())
    home.env["PATH"] = path_with_helpers()
    return home


def config_only_home(root: Path, sandbox: Sandbox) -> Home:
    """The docs' two-profile config: ``default`` for 3DM, ``predictions`` for the prediction API
    (its secret from ``client_secret_command``); no BIOPRODICT_* variable, no CA variable."""
    home = Home.make(root)
    home.env["PATH"] = path_with_helpers()
    secret = root / "machine-secret"
    secret.write_text(sandbox.machine_clients["bp-predict"].secret + "\n")
    ca = json.dumps(str(sandbox.ca_path))
    home.write_config(
        "[profiles.default]\n"
        f'token_url = "{sandbox.token_url}"\n'
        'client_id = "bp-demo"\n'
        'client_secret = "demo-secret"\n'
        f"ca_bundle = {ca}\n\n"
        "[profiles.predictions]\n"
        'grant = "client_credentials"\n'
        f'token_url = "{sandbox.machine_token_url}"\n'
        f'audience = "{PREDICTION_AUDIENCE}"\n'
        f'hosts = ["{sandbox.prediction_netloc}"]\n'
        'client_id = "bp-predict"\n'
        f"client_secret_command = {json.dumps(['cat', str(secret)])}\n"
        f"ca_bundle = {ca}\n"
    ).chmod(0o600)
    return home


def token_from(home: Home, sandbox: Sandbox, front_end: str, profile: str) -> str:
    """The token ``front_end`` hands out, after checking the prediction API accepts what it
    sends (the helpers' answers are tried on the API by the caller)."""
    url = sandbox.prediction_url + front_end
    if front_end == "token":
        done = home.bp("--profile", profile, "token")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()
    if front_end == "git":
        request = f"protocol=https\nhost={sandbox.prediction_netloc}\n\n"
        done = home.run(["get"], input=request, program=GIT)
        assert done.returncode == 0, done.stderr
        answer = attributes(done.stdout)
        assert answer["username"] == "bp-predict"
        return answer["password"]
    if front_end == "docker":
        with mock.patch.dict(os.environ, {"PATH": home.env["PATH"]}):  # where docker-py looks
            store = credentials.Store("bioprodict", environment=home.env)
        found = store.get(f"https://{sandbox.prediction_netloc}")
        assert found["Username"] == "bp-predict"
        return str(found["Secret"])
    if front_end == "httpie":
        args = ["--ignore-stdin", "--check-status", "--auth-type=bioprodict"]
        done = home.run([*args, f"--verify={sandbox.ca_path}", "GET", url], program="http")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["client_id"] == "bp-predict"
        return sandbox.api_requests[-1].headers["authorization"].removeprefix("Bearer ")
    done = home.run(["-c", AUTH_SCRIPT, url, str(sandbox.ca_path)], program="python")
    assert done.returncode == 0, done.stderr
    status, body = done.stdout.split(" ", 1)
    assert status == "200", done.stdout
    assert json.loads(body)["client_id"] == "bp-predict"
    return sandbox.api_requests[-1].headers["authorization"].removeprefix("Bearer ")


def accepted(sandbox: Sandbox, token: str, name: str = "check") -> bool:
    """Does the prediction API accept ``token``?"""
    import requests

    response = requests.get(
        sandbox.prediction_url + name,
        headers={"Authorization": f"Bearer {token}"},
        verify=str(sandbox.ca_path),
        timeout=30,
    )
    return response.status_code == 200 and response.json()["client_id"] == "bp-predict"


def machine_request(sandbox: Sandbox, kind: str) -> bytes:
    """What a ``kind`` caller (token, git, docker) sends to ask for the prediction host."""
    if kind == "git":
        return f"protocol=https\nhost={sandbox.prediction_netloc}\n\n".encode()
    if kind == "docker":
        return f"https://{sandbox.prediction_netloc}".encode()
    return b""
