"""The Python API: `bp_helper.login`, `token`, `logout` and `status`, against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import trustme

import bp_helper
from bp_helper.errors import BpError, CredentialsRejected, LoginRequired
from bp_helper.testing import DEMO_USERS, Sandbox

from .support import Home, in_process_env
from .support import login as cli_login

ALICE = DEMO_USERS["alice"]
BOB = DEMO_USERS["bob"]


@pytest.fixture
def as_user(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    """This process runs with the home's environment (and never prompts)."""
    in_process_env(home, monkeypatch)
    yield home


def test_logout_token_login_round_trip(sandbox: Sandbox, as_user: Home) -> None:
    status = bp_helper.login("alice", ALICE.password)
    assert isinstance(status, bp_helper.Status)
    assert (status.profile, status.username) == ("default", "alice")
    assert status.fullname == ALICE.fullname
    assert status.logged_in and status.fresh and status.refresh_token
    assert status.expires_at is not None and status.expires_at > datetime.now(UTC)
    assert status.secrets["access token"].source == "token store"
    assert "alice" in str(status)
    token = bp_helper.token()
    assert token == as_user.stored()["access_token"]
    assert as_user.bp("token").stdout.strip() == token  # the command line shares the login

    assert bp_helper.logout() is True
    assert not as_user.store_file().exists()
    with pytest.raises(LoginRequired, match="login needed") as raised:
        bp_helper.token()
    assert isinstance(raised.value, BpError)
    assert not bp_helper.status().logged_in
    assert bp_helper.logout() is False

    bp_helper.login("alice", ALICE.password)
    assert bp_helper.token() == as_user.stored()["access_token"] != token
    assert ALICE.password not in as_user.store_file().read_text()


def test_two_factor_code_and_refusals(sandbox: Sandbox, as_user: Home) -> None:
    assert BOB.twofactor
    with pytest.raises(CredentialsRejected, match="two-factor"):
        bp_helper.login("bob", BOB.password)  # nobody to ask for the code
    assert bp_helper.login("bob", BOB.password, twofactor=BOB.twofactor).username == "bob"
    assert sandbox.token_requests("password")[-1].form["twofactor"] == [BOB.twofactor]
    token = bp_helper.token()
    with pytest.raises(CredentialsRejected, match="Bad credentials") as raised:
        bp_helper.login("bob", "wrong password")
    assert "wrong password" not in str(raised.value)
    assert bp_helper.token() == token  # the stored login is left intact


def test_profiles_and_settings_as_the_command_line(
    sandbox: Sandbox, as_user: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user.write_config("[profiles.lab]\n")
    monkeypatch.setenv("BIOPRODICT_PASSWORD", ALICE.password)
    monkeypatch.setenv("BIOPRODICT_USERNAME", "alice")
    assert bp_helper.login(profile="lab").profile == "lab"
    assert as_user.store_file("lab").exists() and not as_user.store_file().exists()
    assert bp_helper.status("lab").secrets["password"].source == "env BIOPRODICT_PASSWORD"
    assert bp_helper.token(profile="lab") == as_user.stored("lab")["access_token"]
    cli_login(as_user, "alice")  # the default profile, from the command line
    monkeypatch.setenv("BIOPRODICT_PROFILE", "lab")
    assert bp_helper.status().profile == "lab"
    assert bp_helper.token() == as_user.stored("lab")["access_token"]
    with pytest.raises(BpError, match="profile 'nope' is not in"):
        bp_helper.token("nope")


def test_ca_bundle_is_what_the_profile_trusts(
    sandbox: Sandbox, as_user: Home, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An auth object cannot set ``verify``: ``bp_helper.ca_bundle()`` is what to pass."""
    other = tmp_path / "other-ca.pem"
    other.write_bytes(trustme.CA().cert_pem.bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    assert bp_helper.ca_bundle() == str(other)
    as_user.write_config(f'[profiles.default]\nca_bundle = "{sandbox.ca_path}"\n[profiles.plain]\n')
    assert bp_helper.ca_bundle() == str(sandbox.ca_path)
    bp_helper.login("alice", ALICE.password)
    response = requests.get(
        sandbox.api_url + "ca",
        auth=bp_helper.BioProdictAuth(),
        verify=bp_helper.ca_bundle(),
        timeout=30,
    )
    assert response.status_code == 200
    assert bp_helper.ca_bundle("plain") == str(other)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("SSL_CERT_FILE")
    assert bp_helper.ca_bundle("plain") is None
    assert "ca_bundle" in bp_helper.__all__
