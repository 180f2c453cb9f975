"""`bp_helper.BioProdictAuth`: requests with the profile's token, against the sandbox."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

import bp_helper
from bp_helper.errors import HostNotBound
from bp_helper.testing import Sandbox

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
