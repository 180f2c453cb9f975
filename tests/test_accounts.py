"""Several accounts in one profile: kept apart, picked by the request's username, none dropped.

Also the login name: the cache matches the name the user logged in with, however the server
spells it in its answer (issue 10, item 3).
"""

from __future__ import annotations

import json

from bp_helper.testing import DEMO_USERS, Sandbox

from .protocol_support import GIT, attributes, git_request, run_bytes
from .support import Home, one_line_error, sign_in

ALICE = DEMO_USERS["alice"]
DAVE = ("dave", "dave-password")


def status(home: Home) -> dict[str, object]:
    done = home.bp("status", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, object] = json.loads(done.stdout)
    return data


def accounts(home: Home) -> list[tuple[str, bool]]:
    found = status(home)["accounts"]
    assert isinstance(found, list)
    return [(item["username"], item["default"]) for item in found]


def git_get(home: Home, sandbox: Sandbox, *extra: str, **env: str) -> dict[str, str]:
    done = run_bytes(home, GIT, ["get"], git_request(sandbox, *extra), env)
    assert done.returncode == 0, done.stderr
    return attributes(done.stdout)


def test_a_request_for_another_user_keeps_the_logged_in_one(sandbox: Sandbox, home: Home) -> None:
    sandbox.add_user(*DAVE)
    sign_in(home)
    alice_token = home.stored()["access_token"]
    # git asks for dave (say, a URL with dave@): dave logs in, alice stays
    dave = git_get(home, sandbox, "username=dave", BIOPRODICT_PASSWORD=DAVE[1])
    assert dave["username"] == "dave" and dave["password"] != alice_token
    assert len(sandbox.token_requests("password")) == 2
    # a request that names nobody still gets alice, the default, from the cache
    assert git_get(home, sandbox)["password"] == alice_token
    assert git_get(home, sandbox, "username=alice")["password"] == alice_token
    assert git_get(home, sandbox, "username=dave")["password"] == dave["password"]
    assert len(sandbox.requests) == 2  # both from the cache since
    assert accounts(home) == [("alice", True), ("dave", False)]
    text = home.bp("status").stdout
    assert "Alice Example (alice)" in text and "dave" in text


def test_the_last_explicit_login_is_the_default(sandbox: Sandbox, home: Home) -> None:
    sandbox.add_user(*DAVE)
    sign_in(home)
    done = home.bp("login", "--username", "dave", "--password-stdin", input=DAVE[1])
    assert done.returncode == 0, done.stderr
    assert accounts(home) == [("dave", True), ("alice", False)]
    token = home.bp("token")
    assert token.stdout.strip() == home.stored()["access_token"]
    assert home.stored()["username"] == "dave"
    alice = home.bp("token", env={"BIOPRODICT_USERNAME": "alice"})
    assert alice.returncode == 0 and alice.stdout.strip() != token.stdout.strip()
    assert len(sandbox.token_requests()) == 2  # nothing beyond the two logins


def test_logout_of_one_account(sandbox: Sandbox, home: Home) -> None:
    sandbox.add_user(*DAVE)
    sign_in(home)
    done = home.bp("login", "--username", "dave", "--password-stdin", input=DAVE[1])
    assert done.returncode == 0, done.stderr
    out = home.bp("logout", "--username", "dave")
    assert out.returncode == 0, out.stderr
    assert accounts(home) == [("alice", True)]  # the next one kept becomes the default
    assert git_get(home, sandbox)["username"] == "alice"
    nobody = home.bp("logout", "--username", "dave")
    assert nobody.returncode == 0 and "no account" in nobody.stdout
    assert home.bp("logout").returncode == 0
    assert not home.store_file().exists()


def test_a_one_account_store_file_still_reads(sandbox: Sandbox, home: Home) -> None:
    """A token file written before accounts existed: no "login", no "accounts"."""
    sign_in(home)
    data = home.stored()
    data.pop("login", None)
    data.pop("accounts", None)
    home.store_file().write_text(json.dumps(data))
    assert home.bp("token").stdout.strip() == data["access_token"]
    assert git_get(home, sandbox, "username=alice")["password"] == data["access_token"]
    assert accounts(home) == [("alice", True)]
    assert len(sandbox.requests) == 1


def test_the_cache_matches_the_name_logged_in_with(sandbox: Sandbox, home: Home) -> None:
    """The server answers "alice" for a login as "ALICE": the cache still serves ALICE."""
    sandbox.usernames_ignore_case = True
    done = home.bp("login", "--username", "ALICE", "--password-stdin", input=ALICE.password)
    assert done.returncode == 0, done.stderr
    assert "alice" in done.stdout  # the server's spelling is for display
    for _ in range(3):
        again = home.bp("token", env={"BIOPRODICT_USERNAME": "ALICE"})
        assert again.returncode == 0, again.stderr
    answer = git_get(home, sandbox, "username=ALICE")
    assert answer["username"] == "ALICE"  # what git sends back next time matches too
    assert len(sandbox.token_requests()) == 1  # the login only


def test_http_as_another_user_keeps_the_logged_in_one(sandbox: Sandbox, home: Home) -> None:
    """`http -a dave` while alice is logged in: dave logs in beside her, nothing is dropped."""
    sandbox.add_user(*DAVE)
    sign_in(home)
    alice_token = home.stored()["access_token"]
    done = home.run(
        ["--ignore-stdin", "--check-status", "--auth-type=bioprodict", "-a", "dave", "GET",
         sandbox.api_url + "who"],
        program="http",
        env={"BIOPRODICT_PASSWORD": DAVE[1]},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["username"] == "dave"
    assert accounts(home) == [("alice", True), ("dave", False)]
    assert home.bp("token").stdout.strip() == alice_token
    assert len(sandbox.token_requests()) == 2


def test_logging_in_as_another_account_makes_every_front_end_use_it(
    sandbox: Sandbox, home: Home
) -> None:
    """With `username` configured (as the README's Set up suggests), `login --username dave`
    updates it and says so, like `gh auth login`: `token` and git get dave from then on."""
    sandbox.add_user(*DAVE)
    assert home.bp("config", "set", "username", "alice").returncode == 0
    sign_in(home)
    done = home.bp("login", "--username", "dave", "--password-stdin", input=DAVE[1])
    assert done.returncode == 0, done.stderr
    assert "username" in done.stdout and "dave" in done.stdout
    assert home.bp("config", "get", "username").stdout == "dave\n"
    dave_token = home.stored()["access_token"]
    assert home.bp("token").stdout.strip() == dave_token
    assert git_get(home, sandbox)["username"] == "dave"
    assert accounts(home) == [("dave", True), ("alice", False)]
    assert len(sandbox.token_requests()) == 2  # the two logins, nothing since


def test_a_username_the_editor_cannot_change_is_named_after_the_login(
    sandbox: Sandbox, home: Home
) -> None:
    """The login stands (dave is the default account); the line to run is named."""
    sandbox.add_user(*DAVE)
    home.write_config('[profiles]\ndefault.username = "alice"\n')  # a dotted key: not by line
    done = home.bp("login", "--username", "dave", "--password-stdin", input=DAVE[1])
    assert done.returncode == 0, done.stderr
    assert "`bp-helper config set username dave`" in done.stderr
    assert accounts(home) == [("dave", True)]


def test_switch_moves_between_accounts_without_a_password(sandbox: Sandbox, home: Home) -> None:
    sandbox.add_user(*DAVE)
    assert home.bp("config", "set", "username", "alice").returncode == 0
    sign_in(home)
    alice_token = home.stored()["access_token"]
    assert home.bp("login", "--username", "dave", "--password-stdin", input=DAVE[1]).returncode == 0
    done = home.bp("switch", "alice", input="")  # nothing to read a password from
    assert done.returncode == 0, done.stderr
    assert "alice" in done.stdout
    assert home.bp("config", "get", "username").stdout == "alice\n"
    assert home.bp("token").stdout.strip() == alice_token
    assert git_get(home, sandbox)["password"] == alice_token
    assert accounts(home) == [("alice", True), ("dave", False)]
    back = home.bp("switch", "dave", env={"BIOPRODICT_USERNAME": "alice"})
    assert back.returncode == 0, back.stderr
    assert "BIOPRODICT_USERNAME=alice" in back.stderr and "unset it" in back.stderr
    assert git_get(home, sandbox)["username"] == "dave"
    assert len(sandbox.token_requests()) == 2  # the two logins: switching asks for nothing


def test_switch_to_an_account_that_never_logged_in_names_the_login(
    sandbox: Sandbox, home: Home
) -> None:
    sign_in(home)
    before = home.stored()
    done = home.bp("switch", "carol")
    assert done.returncode == 2
    assert "`bp-helper login --username carol`" in one_line_error(done)
    home.write_config("[profiles.sandbox]\n")
    other = home.bp("switch", "alice", "--profile", "sandbox")
    assert "`bp-helper --profile sandbox login --username alice`" in one_line_error(other)
    assert home.stored() == before
    assert sandbox.requests[1:] == []


def test_switch_completes_like_every_command() -> None:
    from bp_helper.commands.completion import command_words

    words = command_words()
    assert "switch" in words[""] and "--profile" in words["switch"]
