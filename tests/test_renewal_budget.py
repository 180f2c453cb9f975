"""A 401 without a reason does not cost a refresh per request (issue 10, item 15)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

import bp_helper
from bp_helper.testing import Sandbox

from .hostile_support import HostileServer, Received, send_json
from .support import Home, in_process_env, sign_in

pytestmark = pytest.mark.slow


def no_permission(request: Received, conn: socket.socket) -> None:
    send_json(conn, 401, b'{"error": "forbidden"}', 'WWW-Authenticate: Bearer realm="api"')


@pytest.fixture
def as_user(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    in_process_env(home, monkeypatch)
    return home


def test_an_api_that_always_says_401_costs_at_most_one_refresh(
    sandbox: Sandbox, as_user: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HostileServer(no_permission, tmp_path, tls=False) as api:
        monkeypatch.setenv("BIOPRODICT_HOSTS", f"{sandbox.netloc},127.0.0.1:{api.port}")
        sign_in(as_user)
        path = as_user.store_file()  # a token obtained an hour ago: a 401 may mean it is bad
        stored = as_user.stored()
        path.write_text(
            path.read_text().replace(f'"obtained_at": {stored["obtained_at"]}', '"obtained_at": 1')
        )
        auth = bp_helper.BioProdictAuth()
        answers = [requests.get(api.url("/x"), auth=auth, timeout=30) for _ in range(20)]
    assert {a.status_code for a in answers} == {401}
    assert len(sandbox.token_requests("refresh_token")) == 1
    assert len(api.received) == 21  # 20 requests, one of them sent again with the new token


def test_a_fresh_token_is_not_renewed_for_a_401_without_a_reason(
    sandbox: Sandbox, as_user: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HostileServer(no_permission, tmp_path, tls=False) as api:
        monkeypatch.setenv("BIOPRODICT_HOSTS", f"{sandbox.netloc},127.0.0.1:{api.port}")
        sign_in(as_user)
        answers = [
            requests.get(api.url("/x"), auth=bp_helper.BioProdictAuth(), timeout=30)
            for _ in range(5)
        ]
    assert {a.status_code for a in answers} == {401}
    assert sandbox.token_requests("refresh_token") == []
    assert len(api.received) == 5
