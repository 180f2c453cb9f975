"""git's credential protocol: real `git credential` against the sandbox, and the helper itself."""

from __future__ import annotations

import os
import select
import subprocess
import time

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .protocol_support import (
    GIT,
    assert_refused,
    attributes,
    call_api,
    git,
    git_request,
    git_version,
    run_bytes,
    use_git,
)
from .support import HEAVY, Home, imported_modules, sign_in, sign_out, spawn_with_terminal

# Every test runs against the cached path and the full path (see helper_path in conftest.py).
pytestmark = pytest.mark.usefixtures("helper_path")

ALICE = DEMO_USERS["alice"]


@pytest.fixture
def gitting(home: Home) -> Home:
    """The home with a throwaway git config whose credential helper is bioprodict."""
    use_git(home)
    return home


def fill(home: Home, request: str, **env: str) -> subprocess.CompletedProcess[str]:
    return git(home, "credential", "fill", input=request, env=env)


def test_git_credential_fill_hands_out_a_working_token(sandbox: Sandbox, gitting: Home) -> None:
    sign_in(gitting)
    done = fill(gitting, f"protocol=https\nhost={sandbox.netloc}\npath=team/repo.git\n\n")
    assert done.returncode == 0, done.stderr
    answer = attributes(done.stdout)
    assert answer["host"] == sandbox.netloc  # host includes the port
    assert answer["username"] == "alice"
    assert answer["password"] == gitting.stored()["access_token"]
    assert "path" not in answer  # credential.useHttpPath=false
    assert done.stderr == ""
    assert len(sandbox.requests) == 1  # only the login: the answer came from the cache
    api = call_api(sandbox, f"Bearer {answer['password']}")
    assert api.status_code == 200 and api.json()["username"] == "alice"


def test_get_answers_the_expiry_and_authtype_when_asked(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    stored = home.stored()
    plain = run_bytes(home, GIT, ["get"], git_request(sandbox))
    assert plain.returncode == 0 and plain.stderr == b""
    lines = plain.stdout.decode().splitlines()
    assert lines == [
        "username=alice",
        f"password={stored['access_token']}",
        f"password_expiry_utc={int(stored['expires_at'])}",
    ]
    # As git >= 2.46 asks: capabilities first, then the request.
    request = b"capability[]=authtype\ncapability[]=state\n" + git_request(sandbox)
    capable = run_bytes(home, GIT, ["get"], request)
    assert capable.returncode == 0
    lines = capable.stdout.decode().splitlines()
    assert lines[0] == "capability[]=authtype"  # announced before the values that need it
    answer = attributes(capable.stdout)
    assert answer["authtype"] == "Bearer"
    assert answer["credential"] == answer["password"] == stored["access_token"]
    assert "capability[]=state" not in lines  # never claim what we do not do
    # git >= 2.46 sends "Authorization: <authtype> <credential>"
    api = call_api(sandbox, f"{answer['authtype']} {answer['credential']}")
    assert api.status_code == 200


def test_bearer_only_when_the_server_takes_it(sandbox: Sandbox, home: Home) -> None:
    """git 2.46+ passes the server's challenges; a host that wants Basic gets a password."""
    sign_in(home)
    token = home.stored()["access_token"]
    capable = "capability[]=authtype"
    cases = {
        (): True,  # no challenge passed on: Bearer
        ('wwwauth[]=Basic realm="git"',): False,
        ('wwwauth[]=Basic realm="git"', 'wwwauth[]=bearer realm="api"'): True,
        ("wwwauth[]=Negotiate",): False,
    }
    for challenges, bearer in cases.items():
        done = run_bytes(home, GIT, ["get"], git_request(sandbox, capable, *challenges))
        answer = attributes(done.stdout)
        assert ("authtype" in answer) is bearer, challenges
        assert ("credential" in answer) is bearer
        assert answer["password"] == token and answer["username"] == "alice"
        assert ("capability[]" in answer) is bearer


def test_what_the_installed_git_passes_on(sandbox: Sandbox, gitting: Home) -> None:
    """git < 2.46 neither asks for nor passes on authtype; git < 2.41 drops the expiry."""
    sign_in(gitting)
    done = fill(gitting, f"capability[]=authtype\nprotocol=https\nhost={sandbox.netloc}\n\n")
    assert done.returncode == 0, done.stderr
    answer = attributes(done.stdout)
    assert answer["password"] == gitting.stored()["access_token"]
    version = git_version()
    assert ("authtype" in answer) is (version >= (2, 46))
    assert ("password_expiry_utc" in answer) is (version >= (2, 41))


@pytest.mark.parametrize(
    "request_text",
    [
        "protocol=https\nhost=example.org\n\n",  # another host
        "protocol=https\nhost=127.0.0.1:1\n\n",  # the right host, another port
        "protocol=ssh\nhost={netloc}\n\n",  # not http(s)
        "protocol=https\nhost={netloc}.example.org\n\n",
    ],
)
def test_other_hosts_get_silence(sandbox: Sandbox, gitting: Home, request_text: str) -> None:
    sign_in(gitting)
    request = request_text.format(netloc=sandbox.netloc)
    direct = run_bytes(gitting, GIT, ["get"], request.encode())
    assert (direct.returncode, direct.stdout, direct.stderr) == (0, b"", b"")
    through_git = fill(gitting, request)  # nobody answers, and git may not prompt
    assert through_git.returncode != 0
    assert gitting.stored()["access_token"] not in through_git.stdout + through_git.stderr
    assert "terminal prompts disabled" in through_git.stderr


def test_debug_says_truthfully_which_profile_is_not_bound(sandbox: Sandbox, home: Home) -> None:
    home.write_config("[profiles.default]\n[profiles.sandbox]\n")
    request = b"protocol=https\nhost=example.org\n\n"
    chosen = run_bytes(home, GIT, ["--profile", "sandbox", "--debug", "get"], request)
    anyone = run_bytes(home, GIT, ["--debug", "get"], request)
    assert chosen.returncode == anyone.returncode == 0
    assert chosen.stdout == anyone.stdout == b""
    said = chosen.stderr.decode()
    assert "profile 'sandbox' is not bound to https://example.org" in said
    assert "any profile" not in said and "no profile" not in said
    assert "no bp-helper profile is bound to https://example.org" in anyone.stderr.decode()


def test_plain_http_only_to_loopback(sandbox: Sandbox, gitting: Home) -> None:
    sign_in(gitting)
    gitting.env["BIOPRODICT_HOSTS"] = f"{sandbox.netloc},api.example.org"
    token = gitting.stored()["access_token"]
    https = run_bytes(gitting, GIT, ["get"], b"protocol=https\nhost=api.example.org\n")
    assert attributes(https.stdout)["password"] == token
    http = run_bytes(gitting, GIT, ["get"], b"protocol=http\nhost=api.example.org\n")
    assert (http.returncode, http.stdout) == (0, b"")
    through_git = fill(gitting, "protocol=http\nhost=api.example.org\n\n")
    assert through_git.returncode != 0 and token not in through_git.stdout
    loopback = run_bytes(gitting, GIT, ["get"], git_request(sandbox, protocol="http"))
    assert attributes(loopback.stdout)["password"] == token


def test_carriage_return_injection_is_refused(sandbox: Sandbox, gitting: Home) -> None:
    """Even when git is told to pass a CR through, the helper answers nothing."""
    sign_in(gitting)
    request = f"protocol=https\nhost={sandbox.netloc}\rhost=evil.example.org\n\n"
    done = fill(gitting, request, GIT_CONFIG_PARAMETERS="'credential.protectProtocol'='false'")
    assert done.returncode != 0
    assert "bp-helper: request refused: line 2 contains a carriage return" in done.stderr
    assert gitting.stored()["access_token"] not in done.stdout + done.stderr
    direct = run_bytes(gitting, GIT, ["get"], request.encode())
    assert "carriage return" in assert_refused(direct)


def test_erase_then_get_gives_a_fresh_token(sandbox: Sandbox, gitting: Home) -> None:
    sign_in(gitting)
    first = fill(gitting, f"protocol=https\nhost={sandbox.netloc}\n\n")
    old = attributes(first.stdout)["password"]
    rejected = git(gitting, "credential", "reject", input=first.stdout + "\n")
    assert (rejected.returncode, rejected.stdout, rejected.stderr) == (0, "", "")
    stored = gitting.stored()
    assert stored["access_token"] == "" and stored["refresh_token"]  # refresh token kept
    second = fill(gitting, f"protocol=https\nhost={sandbox.netloc}\n\n")
    new = attributes(second.stdout)["password"]
    assert new != old and new == gitting.stored()["access_token"]
    assert len(sandbox.token_requests("refresh_token")) == 1
    assert call_api(sandbox, f"Bearer {new}").status_code == 200


@pytest.mark.no_cached_path  # store, erase, list, version only
def test_erase_of_an_already_replaced_token_keeps_the_new_one(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    before = home.store_file().read_bytes()
    stale = git_request(sandbox, "username=alice", "password=eyJ.an-older-token")
    done = run_bytes(home, GIT, ["erase"], stale)
    assert (done.returncode, done.stdout) == (0, b"")
    assert home.store_file().read_bytes() == before


def test_store_changes_nothing(sandbox: Sandbox, gitting: Home) -> None:
    sign_in(gitting)
    before = gitting.store_file().read_bytes()
    answer = fill(gitting, f"protocol=https\nhost={sandbox.netloc}\n\n").stdout
    approved = git(gitting, "credential", "approve", input=answer + "\n")
    assert (approved.returncode, approved.stdout, approved.stderr) == (0, "", "")
    assert gitting.store_file().read_bytes() == before
    assert not (gitting.root / ".git-credentials").exists()


def test_logged_out_without_a_terminal_hints_and_falls_through(
    sandbox: Sandbox, gitting: Home
) -> None:
    direct = run_bytes(gitting, GIT, ["get"], git_request(sandbox))
    assert (direct.returncode, direct.stdout) == (0, b"")
    hint = direct.stderr.decode().strip()
    assert len(hint.splitlines()) == 1 and "Traceback" not in hint
    assert hint.startswith(f"bp-helper: no token for https://{sandbox.netloc}: login needed")
    assert "bp-helper login" in hint
    through_git = fill(gitting, f"protocol=https\nhost={sandbox.netloc}\n\n")
    assert through_git.returncode != 0  # git fell through to its own (disabled) prompt
    assert "bp-helper login" in through_git.stderr
    assert sandbox.requests == []


def test_a_username_in_the_request_chooses_whose_token(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)  # alice
    mine = run_bytes(home, GIT, ["get"], git_request(sandbox, "username=alice"))
    assert attributes(mine.stdout)["username"] == "alice"
    theirs = run_bytes(home, GIT, ["get"], git_request(sandbox, "username=bob"))
    assert (theirs.returncode, theirs.stdout) == (0, b"")  # never alice's token for bob
    assert "password for bob" in theirs.stderr.decode()
    assert sandbox.requests[1:] == []


def test_unknown_actions_and_attributes_are_ignored(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    unknown = run_bytes(home, GIT, ["frobnicate"], git_request(sandbox))
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (0, b"", b"")
    extra = git_request(sandbox, 'wwwauth[]=Bearer realm="x"', "future_key=1", "url=https://x")
    done = run_bytes(home, GIT, ["get"], extra)
    assert attributes(done.stdout)["password"] == home.stored()["access_token"]


def test_bp_helper_git_speaks_the_same_protocol(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    request = b"capability[]=authtype\n" + git_request(sandbox)
    assert home.run(["git", "get"], input=request).stdout == (
        run_bytes(home, GIT, ["get"], request).stdout.decode()
    )
    profile = home.run(["--profile", "nope", "git", "get"], input=request)
    assert profile.returncode == 2 and "profile 'nope'" in profile.stderr


def test_helper_options_and_usage(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    home.write_config("[profiles.other]\nclient_id = 'bp-demo'\nhosts = ['api.example.org']\n")
    as_other = run_bytes(home, GIT, ["--profile", "other", "get"], git_request(sandbox))
    assert (as_other.returncode, as_other.stdout) == (0, b"")  # other is not bound there
    as_default = run_bytes(home, GIT, ["--profile=default", "get"], git_request(sandbox))
    assert attributes(as_default.stdout)["username"] == "alice"
    helped = run_bytes(home, GIT, ["--help"])
    assert helped.returncode == 0 and b"credential.https://api.bio-prodict.nl" in helped.stdout
    for bad in (["--bogus", "get"], [], ["get", "store"]):
        done = run_bytes(home, GIT, bad)
        assert done.returncode == 2 and done.stdout == b""
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(b"bp-helper: ")


def test_cached_get_imports_no_network_stack(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    done = run_bytes(home, GIT, ["get"], git_request(sandbox), {"PYTHONPROFILEIMPORTTIME": "1"})
    assert done.returncode == 0 and b"password=" in done.stdout
    modules = imported_modules(done.stderr.decode())
    assert "bp_helper" in modules  # the report is real
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def _git_fill_on_a_terminal(home: Home, request: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run `git credential fill` with a pseudo-terminal as its controlling terminal.

    Answers the helper's password prompt if one appears; returns (status, stdout, terminal).
    """
    proc, master = spawn_with_terminal(home, ["credential", "fill"], program="git", env=env)
    assert proc.stdin is not None
    proc.stdin.write(request.encode())
    proc.stdin.close()
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 1024)
                except OSError:
                    break
            if seen.endswith(b"): ") and b"Bio-Prodict password for alice (" in seen:
                os.write(master, ALICE.password.encode() + b"\n")
                seen += b"<answered>"
        proc.wait(timeout=30)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        os.close(master)
    return proc.returncode, out.decode() + err.decode(), seen.decode()


def test_prompts_on_the_terminal_unless_git_forbids_it(sandbox: Sandbox, gitting: Home) -> None:
    request = f"protocol=https\nhost={sandbox.netloc}\nusername=alice\n\n"
    env = {"GIT_TERMINAL_PROMPT": "1"}
    status, output, terminal = _git_fill_on_a_terminal(gitting, request, env)
    assert "<answered>" in terminal, terminal
    assert status == 0, output
    token = attributes(output)["password"]
    assert token == gitting.stored()["access_token"]
    assert ALICE.password not in output + terminal.replace("<answered>", "")
    assert sandbox.token_requests("password")[0].form["password"] == [ALICE.password]
    sign_out(gitting)
    status, output, terminal = _git_fill_on_a_terminal(gitting, request, {})  # prompt=0
    assert "Bio-Prodict" not in terminal
    assert status != 0 and "GIT_TERMINAL_PROMPT=0" in output
    assert len(sandbox.token_requests("password")) == 1


def test_configured_as_the_readme_says(sandbox: Sandbox, gitting: Home) -> None:
    sign_in(gitting)
    (gitting.root / ".gitconfig").unlink()
    scope = f"credential.https://{sandbox.netloc}.helper"
    configured = git(gitting, "config", "--global", scope, "bioprodict --profile default", input="")
    assert configured.returncode == 0, configured.stderr
    assert f'[credential "https://{sandbox.netloc}"]' in (gitting.root / ".gitconfig").read_text()
    token = gitting.stored()["access_token"]
    done = fill(gitting, f"protocol=https\nhost={sandbox.netloc}\n\n")
    assert attributes(done.stdout)["password"] == token
    other = fill(gitting, "protocol=https\nhost=example.org\n\n")  # the helper is not even asked
    assert other.returncode != 0 and token not in other.stdout
    git(gitting, "config", "--global", "--replace-all", scope, "!bp-helper git", input="")
    through_main = fill(gitting, f"protocol=https\nhost={sandbox.netloc}\n\n")
    assert attributes(through_main.stdout)["password"] == token


def test_profiles_bound_to_one_host_are_told_apart_by_username(
    sandbox: Sandbox, home: Home
) -> None:
    home.write_config(f"[profiles.second]\ntoken_url = '{sandbox.token_url}'\n")
    sign_in(home)  # alice, profile default
    bob = DEMO_USERS["bob"]
    assert bob.twofactor is not None
    done = home.bp("--profile", "second", "login", "--username", "bob", "--password-stdin",
                   "--twofactor", bob.twofactor, input=bob.password)  # fmt: skip
    assert done.returncode == 0, done.stderr

    def user_and_token(*extra: str) -> tuple[str, str]:
        answer = attributes(run_bytes(home, GIT, ["get"], git_request(sandbox, *extra)).stdout)
        return answer["username"], answer["password"]

    assert user_and_token() == ("alice", home.stored()["access_token"])  # default first
    assert user_and_token("username=bob") == ("bob", home.stored("second")["access_token"])
    assert user_and_token("username=alice") == ("alice", home.stored()["access_token"])
    assert len(sandbox.token_requests("refresh_token")) == 0
