"""The library's cost per request: ``BioProdictAuth`` and ``HttpxAuth`` on a cached token
against the same request with a static ``Authorization`` header, over a mocked transport (no
network: what is left is the auth object's own work and the HTTP library's)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter

from bp_helper import BioProdictAuth, HttpxAuth

Batch = Callable[[], object]


class CannedAdapter(HTTPAdapter):
    """A requests transport that answers every request with an empty 200, offline."""

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        response = Response()
        response.status_code = 200
        response._content = b"{}"
        response.request = request
        response.url = request.url or ""
        return response


def canned(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={})


def requests_batches(url: str, static: dict[str, str], size: int) -> dict[str, Batch]:
    """``size`` requests with the static header, with one reused ``BioProdictAuth``, and with
    a new ``BioProdictAuth()`` each."""
    session = Session()
    session.trust_env = False  # no ~/.netrc look-up for the requests without an auth object
    session.mount("https://", CannedAdapter())
    auth = BioProdictAuth()

    def batch(send: Callable[[], object]) -> Batch:
        return lambda: [send() for _ in range(size)]

    return {
        "requests static": batch(lambda: session.get(url, headers=static)),
        "requests auth": batch(lambda: session.get(url, auth=auth)),
        "requests new auth": batch(lambda: session.get(url, auth=BioProdictAuth())),
    }


def httpx_batches(
    url: str, static: dict[str, str], size: int, runner: asyncio.Runner
) -> dict[str, Batch]:
    """The same with httpx, sync and async (in ``runner``'s event loop), with one ``HttpxAuth``."""
    client = httpx.Client(transport=httpx.MockTransport(canned), trust_env=False)
    aclient = httpx.AsyncClient(transport=httpx.MockTransport(canned), trust_env=False)
    auth = HttpxAuth()

    def batch(send: Callable[[], object]) -> Batch:
        return lambda: [send() for _ in range(size)]

    def abatch(**options: Any) -> Batch:
        async def send() -> None:
            for _ in range(size):
                await aclient.get(url, **options)

        return lambda: runner.run(send())

    return {
        "httpx static": batch(lambda: client.get(url, headers=static)),
        "httpx auth": batch(lambda: client.get(url, auth=auth)),
        "async static": abatch(headers=static),
        "async auth": abatch(auth=auth),
    }


def async_worker_threads(url: str, count: int) -> int:
    """How many worker threads ran while ``count`` requests went out with one ``HttpxAuth``
    whose token is cached, in an event loop of their own, after one request to warm it."""
    aclient = httpx.AsyncClient(transport=httpx.MockTransport(canned), trust_env=False)
    auth = HttpxAuth()

    async def send(number: int) -> None:
        for _ in range(number):
            await aclient.get(url, auth=auth)

    with asyncio.Runner() as runner:
        return busy_threads(lambda: runner.run(send(1)), lambda: runner.run(send(count)))


def busy_threads(warm: Callable[[], object], run: Callable[[], object]) -> int:
    """Threads started since ``warm()`` began that used CPU during ``run()`` or started in it.

    Threads older than ``warm()`` (the sandbox's) are left out; an idle worker thread uses no
    CPU, so a thread pool started by ``warm()`` counts only if ``run()`` gave it work."""
    older = {thread.ident for thread in threading.enumerate()}

    def cpu_by_thread() -> dict[int, float]:
        used = {}
        for thread in threading.enumerate():
            if thread.ident is not None and thread.ident not in older:
                try:
                    clock = time.pthread_getcpuclockid(thread.ident)
                    used[thread.ident] = time.clock_gettime(clock)
                except OSError:  # it ended meanwhile
                    continue
        return used

    warm()
    time.sleep(0.05)  # a pool thread that just handed back its result goes back to waiting
    before = cpu_by_thread()
    run()
    after = cpu_by_thread()
    return sum(1 for ident, used in after.items() if used > before.get(ident, -1.0))
