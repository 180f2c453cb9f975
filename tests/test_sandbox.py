"""The sandbox token server behaves like the Bio-Prodict one, strictly, and faults on demand."""

from __future__ import annotations

import base64
import io
import json
import shlex
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from bp_helper.testing import DEMO_CLIENTS, DEMO_USERS, RecordedRequest, Sandbox
from bp_helper.testing.serving import QuickHTTPServer

from .support import Home, executable
from .support import login as cli_login

ALICE = DEMO_USERS["alice"]
Form = dict[str, str] | list[tuple[str, str]]


def password_form(user: str = "alice", client: str = "bp-demo", **extra: str) -> dict[str, str]:
    form = {
        "grant_type": "password",
        "username": user,
        "password": DEMO_USERS[user].password if user in DEMO_USERS else "x",
        "client_id": client,
        "client_secret": DEMO_CLIENTS[client].secret,
    }
    form.update(extra)
    return form


def post(
    sandbox: Sandbox,
    data: Form | bytes | None = None,
    client: str | None = "bp-demo",
    **kwargs: Any,
) -> requests.Response:
    if client is not None:
        kwargs.setdefault("auth", (client, DEMO_CLIENTS[client].secret))
    kwargs.setdefault("timeout", 5)
    return requests.post(sandbox.token_url, data=data, verify=str(sandbox.ca_path), **kwargs)


def login(sandbox: Sandbox, user: str = "alice", client: str = "bp-demo") -> dict[str, Any]:
    response = post(sandbox, password_form(user, client), client)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def refresh(sandbox: Sandbox, token: str, client: str = "bp-demo") -> requests.Response:
    return post(sandbox, {"grant_type": "refresh_token", "refresh_token": token}, client)


def api(
    sandbox: Sandbox, token: str | None = None, path: str = "things/1", **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(
        sandbox.api_url + path, headers=headers, verify=str(sandbox.ca_path), timeout=5, **kwargs
    )


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def oauth_error(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


# -- password grant --------------------------------------------------------------------------


def test_success_answer_has_the_spring_shape(sandbox: Sandbox) -> None:
    response = post(sandbox, password_form())
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json()
    assert set(answer) == {
        "access_token",
        "token_type",
        "refresh_token",
        "expires_in",
        "scope",
        "fullname",
        "userid",
        "username",
        "jti",
    }
    assert answer["token_type"] == "bearer"
    assert answer["expires_in"] == 43199
    assert answer["scope"] == "read write"
    assert (answer["fullname"], answer["userid"], answer["username"]) == (
        "Alice Example",
        1001,
        "alice",
    )
    access = claims(answer["access_token"])
    assert access["jti"] == answer["jti"]
    assert access["user_name"] == "alice"
    assert access["client_id"] == "bp-demo"
    assert access["authorities"] == ["ROLE_USER"]
    assert access["scope"] == ["read", "write"]
    assert abs(access["exp"] - (time.time() + 43200)) < 5
    assert "ati" not in access
    assert claims(answer["refresh_token"])["ati"] == answer["jti"]


def test_special_character_password_arrives_byte_identical(sandbox: Sandbox) -> None:
    assert post(sandbox, password_form()).status_code == 200
    recorded = sandbox.requests[-1]
    assert recorded.form["password"] == [ALICE.password]
    assert b"&password=s3cr%26t%3D+%2B%25%23%C3%84pfel&" in recorded.raw_body
    # Encoded twice (the classic bug) the password no longer matches.
    double = password_form(password=quote(ALICE.password, safe=""))
    assert oauth_error(post(sandbox, double)) == (400, "invalid_grant", "Bad credentials")


@pytest.mark.parametrize(
    ("user", "password", "description"),
    [
        ("alice", "wrong", "Bad credentials"),
        ("nobody", "x", "Bad credentials"),
        ("alice", ALICE.password + "\n", "Bad credentials"),
        ("carol", "carol-password", "User account is locked"),
        ("carol", "wrong", "User account is locked"),
    ],
)
def test_bad_user_credentials(sandbox: Sandbox, user: str, password: str, description: str) -> None:
    response = post(sandbox, password_form(user, password=password))
    assert oauth_error(response) == (400, "invalid_grant", description)


def test_two_factor_missing_wrong_right(sandbox: Sandbox) -> None:
    missing = post(sandbox, password_form("bob"))
    assert oauth_error(missing) == (
        400,
        "invalid_grant",
        "Two-factor authentication code required",
    )
    wrong = post(sandbox, password_form("bob", twofactor="111111"))
    assert oauth_error(wrong) == (400, "invalid_grant", "Invalid two-factor authentication code")
    right = post(sandbox, password_form("bob", twofactor="246810"))
    assert right.status_code == 200
    assert right.json()["username"] == "bob"
    # A code is accepted (and ignored) for a user without two-factor authentication.
    assert post(sandbox, password_form("alice", twofactor="123456")).status_code == 200


@pytest.mark.parametrize(
    ("data", "kwargs", "fragment"),
    [
        pytest.param(None, {"json": password_form()}, "Content-Type", id="json-body"),
        pytest.param(
            [*password_form().items(), ("username", "alice")], {}, "repeated", id="repeated"
        ),
        pytest.param(
            {k: v for k, v in password_form().items() if k != "client_id"},
            {},
            "missing field(s): client_id",
            id="missing-client-id",
        ),
        pytest.param(
            {k: v for k, v in password_form().items() if k != "client_secret"},
            {},
            "missing field(s): client_secret",
            id="missing-client-secret",
        ),
        pytest.param(
            password_form(scope="read"), {}, "unexpected field(s): scope", id="extra-scope"
        ),
        pytest.param(
            password_form(client_secret="other"), {}, "client_secret differs", id="secret-differs"
        ),
        pytest.param(password_form(twofactor=""), {}, "empty twofactor", id="empty-twofactor"),
        pytest.param(
            {"grant_type": "refresh_token", "refresh_token": "x", "username": "alice"},
            {},
            "unexpected field(s): username",
            id="refresh-extra",
        ),
        pytest.param(
            {"grant_type": "refresh_token", "refresh_token": "x", "client_id": "bp-public"},
            {},
            "client_id differs",
            id="refresh-client-differs",
        ),
        pytest.param(
            "grant_type=password&username=alice&password=s3cr%26t%3D+%2B%25%23Äpfel"
            "&client_id=bp-demo&client_secret=demo-secret".encode(),
            {"headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            "not ASCII",
            id="raw-non-ascii",
        ),
    ],
)
def test_strict_request_checks(
    sandbox: Sandbox, data: Form | bytes | None, kwargs: dict[str, Any], fragment: str
) -> None:
    status, error, description = oauth_error(post(sandbox, data, **kwargs))
    assert (status, error) == (400, "invalid_request")
    assert description.startswith("sandbox: ")
    assert fragment in description


def test_grant_type_missing_or_unknown(sandbox: Sandbox) -> None:
    no_grant = {k: v for k, v in password_form().items() if k != "grant_type"}
    assert oauth_error(post(sandbox, no_grant)) == (400, "invalid_request", "Missing grant type")
    other = {"grant_type": "client_credentials"}
    assert oauth_error(post(sandbox, other)) == (
        400,
        "unsupported_grant_type",
        "Unsupported grant type: client_credentials",
    )


def test_documented_request_with_refresh_client_fields_is_accepted(sandbox: Sandbox) -> None:
    token = login(sandbox)["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": token}
    data |= {"client_id": "bp-demo", "client_secret": "demo-secret"}
    assert post(sandbox, data).status_code == 200


# -- client authentication -------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic " + base64.b64encode(b"bp-demo:wrong").decode(),
        "Basic " + base64.b64encode(b"nobody:demo-secret").decode(),
        "Basic " + base64.b64encode(b"bp-demo:demo-secret\n").decode(),
        "Basic %%%not-base64",
        "Bearer " + base64.b64encode(b"bp-demo:demo-secret").decode(),
    ],
)
def test_bad_client_is_401_with_basic_realm_and_spring_body(
    sandbox: Sandbox, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = post(sandbox, password_form(), client=None, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="oauth2/client"'
    body = response.json()
    assert "error_description" not in body
    assert body["status"] == 401
    assert body["error"] == "Unauthorized"
    assert body["message"] == "Bad credentials"
    assert body["path"] == "/oauth/oauth/token"
    assert body["timestamp"]


def test_empty_secret_client_works(sandbox: Sandbox) -> None:
    answer = login(sandbox, client="bp-public")
    assert sandbox.requests[-1].headers["authorization"] == "Basic " + base64.b64encode(
        b"bp-public:"
    ).decode("ascii")
    assert sandbox.requests[-1].form["client_secret"] == [""]
    assert refresh(sandbox, answer["refresh_token"], "bp-public").status_code == 200


def test_client_without_refresh_tokens(sandbox: Sandbox) -> None:
    answer = login(sandbox, client="bp-norefresh")
    assert "refresh_token" not in answer
    assert answer["access_token"]
    refresh_token = login(sandbox)["refresh_token"]
    response = refresh(sandbox, refresh_token, "bp-norefresh")
    assert oauth_error(response) == (
        400,
        "invalid_client",
        "Unauthorized grant type: refresh_token",
    )


# -- refresh grant ---------------------------------------------------------------------------


def test_refresh_rotates_and_old_refresh_token_is_rejected_with_echo(sandbox: Sandbox) -> None:
    first = login(sandbox)
    response = refresh(sandbox, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["username"] == "alice"
    old = refresh(sandbox, first["refresh_token"])
    assert oauth_error(old) == (
        400,
        "invalid_grant",
        f"Invalid refresh token: {first['refresh_token']}",
    )
    assert refresh(sandbox, second["refresh_token"]).status_code == 200
    # The first access token stays valid until it expires.
    assert api(sandbox, first["access_token"]).status_code == 200


def test_without_rotation_the_string_changes_but_old_one_stays_valid() -> None:
    with Sandbox(rotate_refresh_tokens=False) as sandbox:
        first = login(sandbox)["refresh_token"]
        second = refresh(sandbox, first).json()["refresh_token"]
        assert second != first
        assert claims(second)["jti"] == claims(first)["jti"]
        assert refresh(sandbox, first).status_code == 200
        assert refresh(sandbox, second).status_code == 200


def test_refresh_token_of_another_client_is_rejected(sandbox: Sandbox) -> None:
    token = login(sandbox)["refresh_token"]
    response = refresh(sandbox, token, "bp-public")
    assert oauth_error(response) == (400, "invalid_grant", f"Invalid refresh token: {token}")
    assert refresh(sandbox, token).status_code == 200  # not consumed by the failed attempt


def test_revoked_and_expired_refresh_tokens_are_rejected(sandbox: Sandbox) -> None:
    token = login(sandbox)["refresh_token"]
    sandbox.revoke_refresh_tokens()
    assert oauth_error(refresh(sandbox, token))[:2] == (400, "invalid_grant")
    assert login(sandbox)["refresh_token"]  # new logins get working refresh tokens again
    with Sandbox(refresh_lifetime=0) as short:
        expired = login(short)["refresh_token"]
        assert oauth_error(refresh(short, expired)) == (
            400,
            "invalid_grant",
            f"Invalid refresh token: {expired}",
        )


@pytest.mark.parametrize("kind", ["garbage", "tampered", "access-token"])
def test_malformed_refresh_token_is_401_invalid_token(sandbox: Sandbox, kind: str) -> None:
    answer = login(sandbox)
    header, payload, signature = answer["refresh_token"].split(".")
    token = {
        "garbage": "not-a-jwt",
        "tampered": f"{header}.{payload}.{signature[:-4]}AAAA",
        "access-token": answer["access_token"],
    }[kind]
    status, error, description = oauth_error(refresh(sandbox, token))
    assert (status, error) == (401, "invalid_token")
    if kind == "access-token":
        assert description == "Encoded token is not a refresh token"
    else:
        assert description == "Cannot convert access token to JSON"


# -- protected resource ----------------------------------------------------------------------


def test_api_with_valid_token(sandbox: Sandbox) -> None:
    token = login(sandbox)["access_token"]
    response = requests.post(
        sandbox.api_url + "miner/x?q=1",
        headers={"Authorization": f"Bearer {token}"},
        data=b"payload",
        verify=str(sandbox.ca_path),
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json() == {
        "path": "/api/miner/x?q=1",
        "method": "POST",
        "username": "alice",
        "fullname": "Alice Example",
        "client_id": "bp-demo",
    }
    assert [r.raw_body for r in sandbox.api_requests] == [b"payload"]
    assert sandbox.api_requests[0].status == 200


def test_api_without_token(sandbox: Sandbox) -> None:
    response = api(sandbox)
    description = "Full authentication is required to access this resource"
    assert oauth_error(response) == (401, "unauthorized", description)
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="oauth2-resource", error="unauthorized", error_description="{description}"'
    )


def test_api_with_expired_token(sandbox: Sandbox) -> None:
    old = login(sandbox)["access_token"]
    sandbox.expire_access_tokens()
    response = api(sandbox, old)
    assert oauth_error(response) == (401, "invalid_token", f"Access token expired: {old}")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert api(sandbox, login(sandbox)["access_token"]).status_code == 200  # new ones work


def test_api_with_revoked_or_invalid_token(sandbox: Sandbox) -> None:
    answer = login(sandbox)
    for token in ("garbage", answer["refresh_token"]):
        assert oauth_error(api(sandbox, token)) == (
            401,
            "invalid_token",
            f"Invalid access token: {token}",
        )
    sandbox.revoke_access_tokens()
    response = api(sandbox, answer["access_token"])
    assert oauth_error(response)[2] == f"Invalid access token: {answer['access_token']}"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="oauth2-resource"')


def test_api_accepts_basic_token_only_when_enabled(sandbox: Sandbox) -> None:
    token = login(sandbox)["access_token"]

    def basic(user: str) -> requests.Response:
        return api(sandbox, auth=(user, token))

    assert oauth_error(basic("alice"))[:2] == (401, "unauthorized")
    sandbox.accept_basic_token = True
    ok = basic("alice")
    assert ok.status_code == 200
    assert ok.json()["username"] == "alice"
    assert oauth_error(basic("bob"))[:2] == (401, "invalid_token")


def test_other_paths_and_methods(sandbox: Sandbox) -> None:
    ca = str(sandbox.ca_path)
    missing = requests.get(sandbox.base_url + "/elsewhere", verify=ca, timeout=5)
    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    wrong_method = requests.get(sandbox.token_url, verify=ca, timeout=5)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    assert [r.status for r in sandbox.requests] == [405]


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "content_type"),
    [
        ("http500", 500, "application/json"),
        ("http502html", 502, "text/html"),
        ("http503", 503, "text/html"),
        ("nonjson200", 200, "text/plain"),
        ("html200", 200, "text/html"),
        ("no_access_token", 200, "application/json"),
    ],
)
def test_http_faults(sandbox: Sandbox, fault: str, status: int, content_type: str) -> None:
    sandbox.inject(fault)
    response = post(sandbox, password_form())
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(content_type)
    if fault == "http500":
        assert response.json()["status"] == 500
        assert "error_description" not in response.json()
    if fault == "nonjson200":
        assert response.text == "OK"
    if fault == "no_access_token":
        assert "access_token" not in response.json()
        assert response.json()["token_type"] == "bearer"
    assert sandbox.requests[-1].status == status
    assert post(sandbox, password_form()).status_code == 200  # consumed


def test_fault_count_and_bad_fault(sandbox: Sandbox) -> None:
    sandbox.inject("http503", count=2)
    statuses = [post(sandbox, password_form()).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    with pytest.raises(ValueError, match="unknown fault"):
        sandbox.inject("http418")
    with pytest.raises(ValueError):
        sandbox.inject("expires_in")


@pytest.mark.parametrize("value", [-5, 0, 10**12])
def test_expires_in_fault(sandbox: Sandbox, value: int) -> None:
    sandbox.inject("expires_in", value=value)
    answer = login(sandbox)
    assert answer["expires_in"] == value
    assert api(sandbox, answer["access_token"]).status_code == 200


def test_reset_fault(sandbox: Sandbox) -> None:
    sandbox.inject("reset")
    with pytest.raises(requests.ConnectionError):
        post(sandbox, password_form())
    assert [r.status for r in sandbox.requests] == [0]
    assert post(sandbox, password_form()).status_code == 200


@pytest.mark.slow
def test_hang_fault_times_out_the_client_then_closes(sandbox: Sandbox) -> None:
    sandbox.inject("hang", seconds=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        post(sandbox, password_form(), timeout=0.3)
    sandbox.inject("hang", seconds=0.5)
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        post(sandbox, password_form(), timeout=5)
    assert 0.4 < time.monotonic() - started < 3
    assert [r.status for r in sandbox.requests] == [0, 0]


def test_a_test_server_stops_without_waiting_for_its_next_poll() -> None:
    """shutdown() wakes the serving loop: with no poll at all (where the stdlib's loop would
    never see the request to stop), it still returns, and the loop has ended."""
    server = QuickHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    serving = threading.Thread(target=server.serve_forever, args=(None,), daemon=True)
    serving.start()
    stopping = threading.Thread(target=server.shutdown, daemon=True)
    stopping.start()
    stopping.join(60)  # a guard against a hang, not a measure
    serving.join(60)
    assert not stopping.is_alive() and not serving.is_alive()
    server.server_close()


def test_stop_during_hang_returns_quickly() -> None:
    sandbox = Sandbox().start()
    sandbox.inject("hang", seconds=30)
    errors: list[BaseException] = []

    def client() -> None:
        try:
            post(sandbox, password_form(), timeout=20)
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    deadline = time.monotonic() + 3
    while not sandbox.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 2
    thread.join(3)
    assert not thread.is_alive()
    assert len(errors) == 1
    sandbox.stop()  # idempotent
    assert not sandbox.ca_path.exists()


def test_delay(sandbox: Sandbox) -> None:
    sandbox.delay = 0.4
    started = time.monotonic()
    assert post(sandbox, password_form()).status_code == 200
    assert time.monotonic() - started >= 0.4
    # The delay is for the token endpoint only: with one of a minute, the API still answers
    # within api()'s 5 s timeout (a delayed answer would raise instead).
    sandbox.delay = 60
    assert api(sandbox).status_code == 401
    sandbox.delay = 0


class _AllAtOnce:
    """Stands in for the sandbox's stop event: its delay waits until ``parties`` requests are
    in the delay together, which only a server that serves them in parallel can reach."""

    def __init__(self, stopping: threading.Event, parties: int) -> None:
        self.stopping = stopping
        self.barrier = threading.Barrier(parties)

    def wait(self, timeout: float | None = None) -> bool:
        self.barrier.wait(timeout=20)  # BrokenBarrierError: they were served one by one
        return self.stopping.is_set()

    def set(self) -> None:
        self.stopping.set()
        self.barrier.abort()

    def is_set(self) -> bool:
        return self.stopping.is_set()


def test_concurrent_requests_are_all_served_and_recorded(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "_stopping", _AllAtOnce(sandbox._stopping, 8))
    sandbox.delay = 0.01
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(post(sandbox, password_form(), timeout=30).status_code)
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(40)
    assert results == [200] * 8  # all 8 were in the delay at once: served in parallel
    assert len({r.raw_body for r in sandbox.requests}) == 1
    assert len(sandbox.requests) == 8


# -- bookkeeping -----------------------------------------------------------------------------


def test_counters(sandbox: Sandbox) -> None:
    token = login(sandbox)["refresh_token"]
    refresh(sandbox, token)
    post(sandbox, password_form("alice", password="wrong"))
    api(sandbox)
    assert len(sandbox.requests) == 3
    assert [r.status for r in sandbox.token_requests("password")] == [200, 400]
    [recorded] = sandbox.token_requests("refresh_token")
    assert isinstance(recorded, RecordedRequest)
    assert recorded.method == "POST"
    assert recorded.path == "/oauth/oauth/token"
    assert recorded.basic_client_id == "bp-demo"
    assert recorded.form == {"grant_type": ["refresh_token"], "refresh_token": [token]}
    assert recorded.headers["content-type"] == "application/x-www-form-urlencoded"
    assert len(sandbox.token_requests()) == 3
    assert [r.status for r in sandbox.api_requests] == [401]
    sandbox.reset_counters()
    assert sandbox.requests == []
    assert sandbox.api_requests == []
    assert sandbox.token_requests() == []


def test_token_lifetime_can_change_at_runtime(sandbox: Sandbox) -> None:
    sandbox.token_lifetime = 60
    answer = login(sandbox)
    assert answer["expires_in"] == 59
    assert abs(claims(answer["access_token"])["exp"] - (time.time() + 60)) < 5
    sandbox.token_lifetime = 0
    short = login(sandbox)["access_token"]  # its exp is now: expired at once
    assert oauth_error(api(sandbox, short))[2] == f"Access token expired: {short}"


def test_env(sandbox: Sandbox) -> None:
    env = sandbox.env()
    ca = str(sandbox.ca_path)
    assert env == {
        "BIOPRODICT_TOKEN_URL": sandbox.token_url,
        "BIOPRODICT_CLIENT_ID": "bp-demo",
        "BIOPRODICT_CLIENT_SECRET": "demo-secret",
        "REQUESTS_CA_BUNDLE": ca,
        "SSL_CERT_FILE": ca,
        "CURL_CA_BUNDLE": ca,
        "GIT_SSL_CAINFO": ca,
    }
    with_user = sandbox.env("bp-public", user="alice")
    assert with_user["BIOPRODICT_CLIENT_SECRET"] == ""
    assert with_user["BIOPRODICT_USERNAME"] == "alice"
    assert with_user["BIOPRODICT_PASSWORD"] == ALICE.password
    assert sandbox.ca_path.read_bytes() == sandbox.ca_pem
    assert sandbox.token_url == f"https://{sandbox.netloc}/oauth/oauth/token"
    assert sandbox.api_url == f"https://{sandbox.netloc}/api/"
    assert sandbox.netloc.startswith("127.0.0.1:")


def test_certificate_covers_localhost_and_bad_handshakes_are_quiet(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sandbox.api_url, timeout=5)  # not trusted without the sandbox CA
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{sandbox.netloc}/api/", timeout=5)  # plain HTTP
    port = sandbox.netloc.rsplit(":", 1)[1]
    response = requests.get(
        f"https://localhost:{port}/api/x", verify=str(sandbox.ca_path), timeout=5
    )
    assert response.status_code == 401
    assert "Traceback" not in capfd.readouterr().err


def test_serve_forever_cli_prints_usage_and_stops() -> None:
    sandbox = Sandbox()
    out = io.StringIO()
    thread = threading.Thread(target=sandbox.serve_forever_cli, args=(out,))
    thread.start()
    deadline = time.monotonic() + 5
    while "Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    text = out.getvalue()
    assert sandbox.token_url in text
    assert "export BIOPRODICT_CLIENT_ID=bp-demo\n" in text
    assert f"export REQUESTS_CA_BUNDLE={sandbox.ca_path}" in text
    assert "246810" in text
    assert "locked" in text
    assert f"{sandbox.api_url}hello" in text
    assert "Press Ctrl-C to stop" in text
    sandbox.stop()
    thread.join(3)
    assert not thread.is_alive()


def test_missing_trustme_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)
    with pytest.raises(RuntimeError, match=r" -m pip install trustme$"):
        Sandbox().start()


def test_the_try_it_lines_work_and_keep_the_token_off_command_lines(
    sandbox: Sandbox, home: Home
) -> None:
    """What `bp-helper sandbox` says to try runs as printed, and puts no token in an argv
    (`curl -H "Authorization: Bearer $(bp-helper token)"` would, for `ps` to show)."""
    from bp_helper.testing.usage import usage

    text = usage(sandbox)
    tried = text.split("Try it:", 1)[1].split("or by hand", 1)[0]
    assert "$(bp-helper token)" not in tried and "Authorization" not in tried
    commands = [shlex.split(line) for line in tried.splitlines() if line.strip()[:1] != "("]
    commands = [c for c in commands if c]
    assert [c[:2] for c in commands] == [["bp-helper", "login"], ["bp-helper", "curl"]]
    cli_login(home)
    done = home.run(commands[1][1:])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["username"] == "alice"


def test_sandbox_keeps_a_stable_ca_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    home = Home.make(tmp_path / "home")
    ca = tmp_path / "stable" / "ca.pem"
    proc = subprocess.Popen(
        [executable("bp-helper"), "sandbox", "--ca-file", str(ca)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=home.env,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Press Ctrl-C" in line:
            break
    text = "".join(lines)
    assert f"export REQUESTS_CA_BUNDLE={ca}\n" in text
    assert "separate shell" in text
    temp_ca = next(line.split()[1] for line in lines if line.strip().startswith("CA "))
    assert temp_ca == str(ca) and ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Stopping the sandbox." in rest
    assert "Traceback" not in err
    assert ca.exists()  # kept: the path the user configured stays valid
