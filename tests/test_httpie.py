"""The HTTPie plugin: real `http --auth-type=bioprodict` against the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys

from bp_helper.testing import Sandbox

from .integration_support import Recorder, login
from .support import Home, imported_modules

PLUGIN_NEVER_LOADS = (
    "bp_helper",
    "filelock",
    "platformdirs",
    "oauthlib",
    "requests_oauthlib",
    "keyring",
)


def http(home: Home, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return home.run(["--ignore-stdin", "--check-status", *args], program="http", env=env)


def test_http_gets_the_protected_resource(sandbox: Sandbox, home: Home) -> None:
    token = login(home)
    done = http(home, "--auth-type=bioprodict", "GET", sandbox.api_url + "hello")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["username"] == "alice"
    (seen,) = sandbox.api_requests
    assert seen.status == 200
    assert seen.headers["authorization"] == f"Bearer {token}"
    assert token not in done.stdout + done.stderr


def test_unbound_host_gets_no_token_and_a_clear_error(sandbox: Sandbox, home: Home) -> None:
    login(home)
    with Recorder() as other:
        refused = http(home, "--auth-type=bioprodict", "GET", other.url + "x")
        assert refused.returncode == 1
        assert "refusing to send the Bio-Prodict token to http://127.0.0.1:" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert other.seen == []  # refused before connecting
        # the plugin does nothing unless chosen
        plain = http(home, "GET", other.url + "plain")
        assert plain.returncode == 0, plain.stderr
        assert [s.headers.get("authorization") for s in other.seen] == [None]
    with Sandbox() as second:  # https, but not bound either
        refused = http(home, "--auth-type=bioprodict", "--verify=no", "GET", second.api_url + "x")
        assert refused.returncode == 1
        assert "refusing" in refused.stderr
        assert second.api_requests == []


def test_server_side_revoked_token_recovers_with_one_refresh(sandbox: Sandbox, home: Home) -> None:
    old = login(home)
    sandbox.revoke_access_tokens()
    done = http(home, "--auth-type=bioprodict", "GET", sandbox.api_url + "after-revoke")
    assert done.returncode == 0, done.stderr
    assert len(sandbox.token_requests("refresh_token")) == 1
    first, second = sandbox.api_requests
    assert (first.status, second.status) == (401, 200)
    assert first.headers["authorization"] == f"Bearer {old}"
    assert (
        second.headers["authorization"]
        == f"Bearer {home.stored()['access_token']}"
        != (f"Bearer {old}")
    )


def test_a_rejected_token_that_cannot_be_renewed_is_retried_at_most_once(
    sandbox: Sandbox, home: Home
) -> None:
    login(home)
    sandbox.revoke_access_tokens()
    sandbox.revoke_refresh_tokens()  # renewal needs a password login: nobody to ask
    done = http(home, "--auth-type=bioprodict", "GET", sandbox.api_url + "x")
    assert done.returncode == 1
    assert "LoginRequired" in done.stderr and "bp-helper login" in done.stderr
    assert len(sandbox.api_requests) == 1
    done = http(home, "--auth-type=bioprodict", "GET", sandbox.api_url + "x", BIOPRODICT_TOKEN="x")
    assert done.returncode == 4  # HTTPie's --check-status for a 4xx: the 401 stands
    assert len(sandbox.api_requests) == 2  # no retry with the same token


def test_sessions_keep_the_auth_type_but_never_the_token(sandbox: Sandbox, home: Home) -> None:
    token = login(home)
    first = http(home, "--session=work", "--auth-type=bioprodict", "GET", sandbox.api_url + "1")
    assert first.returncode == 0, first.stderr
    again = http(home, "--session=work", "GET", sandbox.api_url + "2")
    assert again.returncode == 0, again.stderr
    assert [r.headers["authorization"] for r in sandbox.api_requests] == [f"Bearer {token}"] * 2
    (session_file,) = (home.root / "config" / "httpie" / "sessions").rglob("work.json")
    saved = json.loads(session_file.read_text())
    assert saved["auth"] == {"type": "bioprodict", "raw_auth": None}
    assert token not in session_file.read_text()


def test_dash_a_picks_the_account(sandbox: Sandbox, home: Home) -> None:
    config = home.write_config(
        f'[profiles.default]\nusername = "alice"\n[profiles.second]\nhosts = ["{sandbox.netloc}"]\n'
    )
    assert config.exists()
    alice = login(home)
    bob = login(home, "bob", "--profile", "second", BIOPRODICT_TWOFACTOR="246810")
    for user, token in (("alice", alice), ("bob", bob)):
        done = http(home, "--auth-type=bioprodict", "-a", user, "GET", sandbox.api_url + user)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["username"] == user
        assert sandbox.api_requests[-1].headers["authorization"] == f"Bearer {token}"
    # an account nobody is logged in as: no other account's token goes out instead
    before = len(sandbox.api_requests)
    done = http(home, "--auth-type=bioprodict", "-a", "carol", "GET", sandbox.api_url + "c")
    assert done.returncode == 1 and "LoginRequired" in done.stderr
    assert len(sandbox.api_requests) == before
    # a password with -a is refused, not sent anywhere
    done = http(home, "--auth-type=bioprodict", "-a", "alice:pw", "GET", sandbox.api_url + "p")
    assert done.returncode == 1 and "takes no password" in done.stderr
    assert "alice:pw" not in done.stderr
    assert len(sandbox.api_requests) == before


def test_installed_plugin_imports_nothing_heavy(sandbox: Sandbox, home: Home) -> None:
    # The real `http`, with every plugin loaded, for a request that does not use ours.
    done = home.run(
        ["--offline", "--ignore-stdin", "example.org"],
        program="http",
        env={"PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert done.returncode == 0, done.stderr
    modules = imported_modules(done.stderr)
    assert "httpie.plugins.manager" in modules  # the report is real
    assert not {m for m in modules if m.split(".")[0] in PLUGIN_NEVER_LOADS}, sorted(modules)
    # HTTPie loads plugins with importlib.import_module, which the report does not list:
    # so also look at what the same run leaves in sys.modules.
    script = (
        "import sys, json\n"
        "from httpie.core import main\n"
        "status = main(['http', *sys.argv[2:]])\n"
        "open(sys.argv[1], 'w').write(json.dumps(sorted(sys.modules)))\n"
    )
    out = home.root / "modules.json"

    def modules_after(*args: str) -> set[str]:
        ran = subprocess.run(
            [sys.executable, "-c", script, str(out), "--ignore-stdin", "--offline", *args],
            capture_output=True,
            text=True,
            env=home.env,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        return set(json.loads(out.read_text()))

    plain = modules_after("example.org")
    assert "bp_helper_integrations.httpie_plugin" in plain  # our plugin was loaded ...
    assert not {m for m in plain if m.split(".")[0] in PLUGIN_NEVER_LOADS}, sorted(
        plain
    )  # ... lightly
    login(home)
    used = modules_after("--auth-type=bioprodict", sandbox.api_url)
    assert {
        "bp_helper.engine.service",
        "bp_helper.library.requests_auth",
    } <= used  # the check above could fail
