"""The README's daily-use sequence, end to end, in a fresh HOME with nothing edited by hand:
`config set` the client, `login`, `setup git` and `setup docker`, then real `git credential
fill`, docker-py and HTTPie get the token from the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bp_helper.testing import DEMO_USERS, Sandbox

from .protocol_support import path_with_helpers
from .support import Home

DOCKER_PY = """import json, sys, docker.auth
config = docker.auth.load_config()  # ~/.docker/config.json, as docker-py finds it
print(json.dumps(docker.auth.resolve_authconfig(config, sys.argv[1])))
"""


def test_readme_sequence_from_a_fresh_home(sandbox: Sandbox, tmp_path: Path) -> None:
    # "Installed for daily use": the helpers are on PATH (pipx/uv put them in ~/.local/bin);
    # nothing in the environment points bp-helper at the sandbox: the config file does.
    home = Home.make(tmp_path / "home", {"PATH": path_with_helpers(), "GIT_CONFIG_NOSYSTEM": "1"})
    client = sandbox.clients["bp-demo"]
    alice = DEMO_USERS["alice"]
    ca = tmp_path / "sandbox-ca.pem"
    ca.write_bytes(sandbox.ca_pem)

    steps: list[tuple[tuple[str, ...], str | None]] = [
        (("config", "set", "client_id", "bp-demo"), None),
        (("config", "set", "client_secret"), client.secret),  # on stdin, never in argv
        (("config", "set", "token_url", sandbox.token_url), None),
        (("config", "set", "ca_bundle", str(ca)), None),
        (("login", "--username", "alice", "--password-stdin"), alice.password),
        (("setup", "git"), None),
        (("setup", "docker"), None),
    ]
    for args, stdin in steps:
        done = home.bp(*args, input=stdin)
        assert done.returncode == 0, (args, done.stderr)
        assert client.secret not in done.stdout + done.stderr
    config = home.root / "config" / "bp-helper" / "config.toml"
    assert config.stat().st_mode & 0o777 == 0o600  # it holds the client secret
    token = home.stored()["access_token"]
    env = {**home.env, "GIT_SSL_CAINFO": str(ca)}

    fill = subprocess.run(
        ["git", "credential", "fill"],
        input=f"protocol=https\nhost={sandbox.netloc}\n\n",
        capture_output=True,
        text=True,
        env={**env, "GIT_TERMINAL_PROMPT": "0"},
        timeout=60,
        check=False,
        cwd=home.root,
    )
    assert fill.returncode == 0, fill.stderr
    assert f"password={token}\n" in fill.stdout
    assert "username=alice\n" in fill.stdout

    docker_py = subprocess.run(  # docker-py finds the helper on its own PATH: a subprocess
        [sys.executable, "-c", DOCKER_PY, sandbox.netloc],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=home.root,
    )
    assert docker_py.returncode == 0, docker_py.stderr
    assert json.loads(docker_py.stdout) == {
        "ServerAddress": sandbox.netloc,
        "Username": "alice",
        "Password": token,
    }

    http = subprocess.run(
        [
            "http",
            "--ignore-stdin",
            "--check-status",
            "--verify",
            str(ca),
            "--auth-type=bioprodict",
            "GET",
            sandbox.api_url + "hello",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=home.root,
    )
    assert http.returncode == 0, http.stderr
    assert json.loads(http.stdout)["username"] == "alice"
    assert sandbox.api_requests[-1].headers["authorization"] == f"Bearer {token}"


def test_the_readme_gives_no_install_advice_that_fails_or_litters() -> None:
    """bp-helper is not on a package index, so `pip install 'bp-helper[...]'` fails; and
    `pipx install --include-deps` puts every dependency's tools in ~/.local/bin."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    advice = readme.replace("`pip install\n'bp-helper[...]'` fails", "")
    assert "pip install 'bp-helper[" not in advice
    assert "--include-deps" not in readme.replace("(Not `pipx install --include-deps`", "")
    assert "pipx inject --include-apps bp-helper httpie" in readme
    assert "python3 -m pip install /path/to/bp-helper" in readme  # bp_helper in your own Python
