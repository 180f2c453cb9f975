"""`bp_helper.BioProdictAuth`: requests with the profile's token, against the sandbox."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests

import bp_helper
from bp_helper.config.settings import Settings
from bp_helper.engine.store import TokenStore
from bp_helper.errors import HostNotBound, LoginRequired
from bp_helper.library import bearer
from bp_helper.testing import Sandbox
from bp_helper.tokens import StoredToken

from .integration_support import Recorder, login
from .support import Home, in_process_env


@pytest.fixture
def as_user(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    """This process runs with the home's environment (and never prompts)."""
    in_process_env(home, monkeypatch)
    yield home


def test_requests_get_with_bioprodict_auth(sandbox: Sandbox, as_user: Home) -> None:
    token = login(as_user)
    response = requests.get(sandbox.api_url + "py", auth=bp_helper.BioProdictAuth(), timeout=30)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert sandbox.api_requests[-1].headers["authorization"] == f"Bearer {token}"
    assert sandbox.token_requests("refresh_token") == []


def test_unbound_hosts_get_no_token(sandbox: Sandbox, as_user: Home) -> None:
    login(as_user)
    (as_user.root / ".netrc").write_text("machine 127.0.0.1 login netrc password from-netrc\n")
    (as_user.root / ".netrc").chmod(0o600)
    auth = bp_helper.BioProdictAuth()
    with Recorder() as other, requests.Session() as session:
        session.auth = auth
        assert session.get(other.url + "a", timeout=30).status_code == 200
        assert session.get(sandbox.api_url + "b", timeout=30).status_code == 200
        (seen,) = other.seen
        assert "authorization" not in seen.headers  # neither the token nor the ~/.netrc entry
        with pytest.raises(HostNotBound, match="refusing to send the Bio-Prodict token"):
            requests.get(other.url, auth=bp_helper.BioProdictAuth(refuse_unbound=True), timeout=30)
        assert len(other.seen) == 1
        as_user.write_config("[profiles.default]\n[profiles.sandbox]\n")
        with pytest.raises(HostNotBound, match="profile 'sandbox' is not bound to that host"):
            requests.get(
                other.url, auth=bp_helper.BioProdictAuth("sandbox", refuse_unbound=True), timeout=30
            )
        assert len(other.seen) == 1
    # a profile that is not bound to the sandbox sends nothing there
    as_user.write_config('[profiles.elsewhere]\nhosts = ["api.example.org"]\n')
    response = requests.get(
        sandbox.api_url + "c", auth=bp_helper.BioProdictAuth("elsewhere"), timeout=30
    )
    assert response.status_code == 401
    assert "authorization" not in sandbox.api_requests[-1].headers


def test_revoked_token_recovers_with_one_refresh(sandbox: Sandbox, as_user: Home) -> None:
    old = login(as_user)
    sandbox.revoke_access_tokens()
    response = requests.get(sandbox.api_url + "r", auth=bp_helper.BioProdictAuth(), timeout=30)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert len(sandbox.token_requests("refresh_token")) == 1
    first, second = sandbox.api_requests
    assert first.headers["authorization"] == f"Bearer {old}"
    assert second.headers["authorization"] == f"Bearer {as_user.stored()['access_token']}"
    assert old != as_user.stored()["access_token"]


@pytest.mark.parametrize("body", [b"raw bytes", "file"])
def test_a_retried_request_sends_its_body_again(
    sandbox: Sandbox, as_user: Home, body: bytes | str
) -> None:
    login(as_user)
    sandbox.revoke_access_tokens()
    data = io.BytesIO(b"prefix:from a file") if body == "file" else body
    if isinstance(data, io.BytesIO):
        data.read(7)  # requests sends from the current position; so must the retry
    response = requests.post(
        sandbox.api_url + "p", data=data, auth=bp_helper.BioProdictAuth(), timeout=30
    )
    assert response.status_code == 200
    expected = b"from a file" if body == "file" else body
    assert [r.raw_body for r in sandbox.api_requests] == [expected, expected]


def test_a_token_that_cannot_be_renewed_is_not_retried(
    sandbox: Sandbox, as_user: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIOPRODICT_TOKEN", "not-a-valid-token")
    response = requests.get(sandbox.api_url, auth=bp_helper.BioProdictAuth(), timeout=30)
    assert response.status_code == 401
    assert len(sandbox.api_requests) == 1
    assert sandbox.requests == []


class LoadCount:
    """Counts the reads of the token store (a spy: the real read runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        real = TokenStore.load

        def load(store: TokenStore, account: str | None = None) -> StoredToken | None:
            self.reads += 1
            return real(store, account)

        monkeypatch.setattr(TokenStore, "load", load)


def test_a_kept_token_is_read_again_only_when_its_file_changes(
    sandbox: Sandbox, as_user: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, the token goes out from memory while the token file stays as it was read;
    a new token, or a file the store no longer trusts, is seen at the next request."""
    first = login(as_user)
    auth = bp_helper.BioProdictAuth()
    loads = LoadCount(monkeypatch)
    with requests.Session() as session:
        session.auth = auth
        assert session.get(sandbox.api_url + "a", timeout=30).status_code == 200
        loads.reads = 0
        for name in "bcd":
            assert session.get(sandbox.api_url + name, timeout=30).status_code == 200
        assert loads.reads == 0
        assert as_user.bp("token", "--renew").returncode == 0  # another process: a new token
        second = as_user.stored()["access_token"]
        assert session.get(sandbox.api_url + "e", timeout=30).status_code == 200
        assert loads.reads > 0
        sent = [r.headers["authorization"] for r in sandbox.api_requests]
        assert sent == [f"Bearer {first}"] * 4 + [f"Bearer {second}"]
        # what the store checks on a read still holds: a file others may read is not used
        as_user.store_file().chmod(0o644)
        with pytest.raises(LoginRequired):
            session.get(sandbox.api_url + "f", timeout=30)
        assert len(sandbox.api_requests) == 5


def test_a_kept_token_due_for_a_refresh_is_read_again(
    sandbox: Sandbox, as_user: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    login(as_user)
    auth = bp_helper.BioProdictAuth()
    assert requests.get(sandbox.api_url + "a", auth=auth, timeout=30).status_code == 200
    loads = LoadCount(monkeypatch)
    assert requests.get(sandbox.api_url + "b", auth=auth, timeout=30).status_code == 200
    assert loads.reads == 0
    stored = StoredToken.from_json(as_user.store_file().read_bytes())
    due = stored.due_at(Settings({}).value("refresh_margin"))
    monkeypatch.setattr(bearer, "time", SimpleNamespace(time=lambda: due))  # its clock only
    assert requests.get(sandbox.api_url + "c", auth=auth, timeout=30).status_code == 200
    assert loads.reads > 0


def test_import_bp_helper_stays_cheap() -> None:
    script = (
        "import sys, bp_helper\n"
        "assert 'requests' not in sys.modules and 'httpx' not in sys.modules\n"
        "assert not [m for m in sys.modules if m.startswith('bp_helper.library')]\n"
        "assert {'HttpxAuth', 'login', 'token', 'logout', 'status'} <= set(bp_helper.__all__)\n"
        "import httpx\n"
        "assert issubclass(bp_helper.HttpxAuth, httpx.Auth)\n"
        "from bp_helper import BioProdictAuth\n"
        "from requests.auth import AuthBase\n"
        "assert issubclass(BioProdictAuth, AuthBase)\n"
        "assert 'BioProdictAuth' in bp_helper.__all__\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
