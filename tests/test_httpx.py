"""`bp_helper.HttpxAuth`: httpx, sync and async, with the profile's token, against the sandbox."""

from __future__ import annotations

import asyncio
import itertools
import os
import shlex
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest

import bp_helper
from bp_helper.engine.client import TokenClient
from bp_helper.errors import HostNotBound
from bp_helper.library.bearer import BoundTokens
from bp_helper.testing import Sandbox
from bp_helper.tokens import StoredToken

from .integration_support import Recorder, login
from .support import Home, expire_stored_token, in_process_env


@pytest.fixture
def as_user(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    """This process runs with the home's environment (and never prompts)."""
    in_process_env(home, monkeypatch)
    yield home


@pytest.fixture
def verify(sandbox: Sandbox) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sandbox.ca_path))


def test_sync_and_async_requests_get_200(
    sandbox: Sandbox, as_user: Home, verify: ssl.SSLContext
) -> None:
    token = login(as_user)
    auth = bp_helper.HttpxAuth()
    with httpx.Client(auth=auth, verify=verify) as client:
        response = client.get(sandbox.api_url + "sync")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(auth=auth, verify=verify) as client:
            return await client.get(sandbox.api_url + "async")

    assert asyncio.run(main()).status_code == 200
    assert asyncio.run(main()).status_code == 200  # the same auth in another event loop
    assert [r.headers["authorization"] for r in sandbox.api_requests] == [f"Bearer {token}"] * 3
    assert sandbox.token_requests("refresh_token") == []


class RefreshWatch:
    """Wraps the token client's refresh: on which thread it ran, and what the loop did
    meanwhile (a spy: the real refresh runs against the sandbox)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, ticks: list[float]) -> None:
        self.ticks = ticks
        self.threads: list[int] = []
        self.ticks_before: list[int] = []
        self.ticks_after: list[int] = []
        real = TokenClient.refresh_grant

        def refresh_grant(client: TokenClient, previous: StoredToken) -> StoredToken:
            self.threads.append(threading.get_ident())
            self.ticks_before.append(len(self.ticks))
            try:
                return real(client, previous)
            finally:
                self.ticks_after.append(len(self.ticks))

        monkeypatch.setattr(TokenClient, "refresh_grant", refresh_grant)


@pytest.mark.slow
def test_concurrent_async_requests_share_one_refresh_off_the_event_loop(
    sandbox: Sandbox, as_user: Home, verify: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    login(as_user)
    expire_stored_token(as_user)
    sandbox.reset_counters()
    sandbox.delay = 1.5  # a slow token endpoint: a loop blocked by the refresh would show it
    ticks: list[float] = []
    watch = RefreshWatch(monkeypatch, ticks)
    in_flight = [0, 0]  # now, most
    real_token_for = BoundTokens.token_for

    def token_for(bound: BoundTokens, url: str) -> Any:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        try:
            return real_token_for(bound, url)
        finally:
            in_flight[0] -= 1

    monkeypatch.setattr(BoundTokens, "token_for", token_for)

    async def main() -> tuple[list[httpx.Response], int]:
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.005)

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)
        async with httpx.AsyncClient(auth=bp_helper.HttpxAuth(), verify=verify) as client:
            responses = await asyncio.gather(
                *(client.get(f"{sandbox.api_url}n{i}") for i in range(8))
            )
        done.set()
        await ticking
        return list(responses), threading.get_ident()

    responses, loop_thread = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * 8
    assert len(sandbox.token_requests()) == 1  # one refresh for all eight
    assert len(sandbox.token_requests("refresh_token")) == 1
    # the refresh ran on a worker thread, while the loop went on ticking
    assert watch.threads and loop_thread not in watch.threads
    (before,), (after,) = watch.ticks_before, watch.ticks_after
    assert after - before >= 3, "the event loop did not run while the token was refreshed"
    worst_gap = max(b - a for a, b in itertools.pairwise(ticks))
    print(f"worst ticker gap {worst_gap * 1000:.1f} ms during a {sandbox.delay} s refresh")
    assert worst_gap < sandbox.delay  # a loop blocked by the refresh would stall >= the delay
    assert in_flight[1] == 1  # the requests waited on the loop, not in a thread each


def test_async_requests_with_a_kept_token_stay_on_the_event_loop(
    sandbox: Sandbox, as_user: Home, verify: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No worker thread for a token at hand; reading the store and refreshing still go to one."""
    login(as_user)
    workers: list[str] = []  # what was sent to a worker thread
    real_run_sync = anyio.to_thread.run_sync

    async def run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        workers.append(getattr(func, "__name__", repr(func)))
        return await real_run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", run_sync)
    watch = RefreshWatch(monkeypatch, [])
    auth = bp_helper.HttpxAuth()

    async def main(names: str) -> tuple[list[int], int]:
        async with httpx.AsyncClient(auth=auth, verify=verify) as client:
            statuses = [(await client.get(sandbox.api_url + name)).status_code for name in names]
        return statuses, threading.get_ident()

    assert asyncio.run(main("a")) == ([200], threading.get_ident())
    assert workers == ["token_for"]  # the first request reads the store off the loop
    workers.clear()
    looked_up_on: list[int] = []  # the threads the kept token was looked up on
    real_cached_token = BoundTokens.cached_token

    def cached_token(bound: BoundTokens, service: Any) -> str | None:
        looked_up_on.append(threading.get_ident())
        return real_cached_token(bound, service)

    monkeypatch.setattr(BoundTokens, "cached_token", cached_token)
    statuses, loop_thread = asyncio.run(main("bcde"))
    assert statuses == [200] * 4
    assert workers == []  # no worker thread
    assert looked_up_on == [loop_thread] * 4  # the token came from the event loop's thread
    assert sandbox.token_requests("refresh_token") == []
    expire_stored_token(as_user)  # the file changes: read again, refreshed in a worker
    statuses, loop_thread = asyncio.run(main("f"))
    assert statuses == [200]
    assert workers == ["token_for"]
    assert len(watch.threads) == 1 and loop_thread not in watch.threads


def test_a_revoked_token_is_renewed_once(
    sandbox: Sandbox, as_user: Home, verify: ssl.SSLContext
) -> None:
    old = login(as_user)
    sandbox.revoke_access_tokens()
    with httpx.Client(auth=bp_helper.HttpxAuth(), verify=verify) as client:
        response = client.post(sandbox.api_url + "r", content=b"the body")
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert len(sandbox.token_requests("refresh_token")) == 1
    first, second = sandbox.api_requests
    assert first.headers["authorization"] == f"Bearer {old}"
    new = as_user.stored()["access_token"]
    assert new != old and second.headers["authorization"] == f"Bearer {new}"
    assert first.raw_body == second.raw_body == b"the body"

    # async, four at once on a revoked token: one refresh between them, each retried once
    sandbox.revoke_access_tokens()
    sandbox.reset_counters()

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(auth=bp_helper.HttpxAuth(), verify=verify) as client:
            return list(
                await asyncio.gather(*(client.get(f"{sandbox.api_url}a{i}") for i in range(4)))
            )

    responses = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * 4
    assert [len(r.history) for r in responses] == [1] * 4
    assert len(sandbox.token_requests("refresh_token")) == 1
    assert len(sandbox.api_requests) == 8


def test_a_streamed_body_is_not_sent_twice(
    sandbox: Sandbox, as_user: Home, verify: ssl.SSLContext
) -> None:
    """A generator body is gone once sent: the 401 comes back (as BioProdictAuth returns it
    for a body it cannot rewind), not httpx.StreamConsumed, sync and async."""
    login(as_user)
    sandbox.revoke_access_tokens()

    def chunks() -> Iterator[bytes]:
        yield b"the "
        yield b"body"

    with httpx.Client(auth=bp_helper.HttpxAuth(), verify=verify) as client:
        response = client.post(sandbox.api_url + "sync", content=chunks())
    assert response.status_code == 401

    async def async_chunks() -> AsyncIterator[bytes]:
        yield b"the body"

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(auth=bp_helper.HttpxAuth(), verify=verify) as client:
            return await client.post(sandbox.api_url + "async", content=async_chunks())

    assert asyncio.run(main()).status_code == 401
    assert [r.raw_body for r in sandbox.api_requests] == [b"the body"] * 2  # each sent once
    # an in-memory body is still sent again, with a renewed token
    with httpx.Client(auth=bp_helper.HttpxAuth(), verify=verify) as client:
        assert client.post(sandbox.api_url + "bytes", content=b"again").status_code == 200


def test_a_401_that_a_new_token_cannot_fix_is_not_retried(
    sandbox: Sandbox, as_user: Home, verify: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIOPRODICT_TOKEN", "not-a-valid-token")
    response = httpx.get(sandbox.api_url, auth=bp_helper.HttpxAuth(), verify=verify)
    assert response.status_code == 401
    assert len(sandbox.api_requests) == 1
    assert sandbox.requests == []


def test_unbound_hosts_get_no_token(
    sandbox: Sandbox, as_user: Home, verify: ssl.SSLContext
) -> None:
    login(as_user)
    with Recorder() as other:
        assert httpx.get(other.url + "a", auth=bp_helper.HttpxAuth()).status_code == 200

        async def main() -> int:
            async with httpx.AsyncClient(auth=bp_helper.HttpxAuth()) as client:
                return (await client.get(other.url + "b")).status_code

        assert asyncio.run(main()) == 200
        assert [s.path for s in other.seen] == ["/a", "/b"]
        assert all("authorization" not in s.headers for s in other.seen)
        with pytest.raises(HostNotBound, match="refusing to send the Bio-Prodict token"):
            httpx.get(other.url, auth=bp_helper.HttpxAuth(refuse_unbound=True))
        assert len(other.seen) == 2
    # a profile that is not bound to the sandbox sends nothing there
    as_user.write_config('[profiles.elsewhere]\nhosts = ["api.example.org"]\n')
    response = httpx.get(sandbox.api_url, auth=bp_helper.HttpxAuth("elsewhere"), verify=verify)
    assert response.status_code == 401
    assert "authorization" not in sandbox.api_requests[-1].headers


def test_without_httpx_the_rest_works_and_httpx_auth_says_what_to_install(tmp_path: Path) -> None:
    code = """
import sys

class NoHttpx:
    def find_spec(self, name, path=None, target=None):
        if name == "httpx" or name.startswith("httpx."):
            raise ImportError("no httpx here")

sys.meta_path.insert(0, NoHttpx())
import bp_helper
print(bp_helper.BioProdictAuth.__name__, bp_helper.token.__name__)
try:
    bp_helper.HttpxAuth
except ImportError as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    # bp-helper is not on a package index: the hint is what works for this install, a venv
    assert done.stdout.splitlines() == [
        "BioProdictAuth token",
        f"bp_helper.HttpxAuth needs httpx: {shlex.quote(sys.executable)} -m pip install httpx",
    ]
    # ... and in an environment pipx made (it writes pipx_metadata.json there), pipx inject
    pipx_venv = tmp_path / "pipx" / "venvs" / "bp-helper"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(pipx_venv)], check=True, timeout=60
    )
    (pipx_venv / "pipx_metadata.json").write_text("{}")
    sources = str(Path(bp_helper.__file__).parent.parent)
    # only bp_helper itself there (PYTHONPATH), no requests: ask for HttpxAuth alone
    only_httpx = code.replace(
        "print(bp_helper.BioProdictAuth.__name__, bp_helper.token.__name__)", ""
    )
    done = subprocess.run(
        [str(pipx_venv / "bin" / "python"), "-c", only_httpx],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": sources},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bp_helper.HttpxAuth needs httpx: pipx inject bp-helper httpx"
