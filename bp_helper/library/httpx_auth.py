"""``bp_helper.HttpxAuth``: httpx auth, sync and async, that sends a profile's token only where
it may go.

``httpx.get(url, auth=HttpxAuth())`` and ``httpx.AsyncClient(auth=HttpxAuth())`` attach
``Authorization: Bearer <token>`` exactly as :class:`~bp_helper.BioProdictAuth` does for
requests (the same host binding, cache, single-flight refresh and renew-once on a 401:
:mod:`bp_helper.library.bearer`). In the async flow, a token already handed out that is not
due and whose file has not changed goes out at once, on the event loop; everything that can
wait (reading the store, the profile's lock, a token request, a prompt) runs in a worker
thread, so the event loop keeps running; concurrent requests of one auth object go one at a
time through that step, so a burst on an expired token makes one refresh without a thread
per request.
Only a body held in memory is sent twice: a streamed one (a generator, a file, multipart) is
gone once sent, so its 401 is returned as it came, as ``BioProdictAuth`` does for a body it
cannot rewind.
Needs the ``httpx`` extra (``bp_helper.install.install_command("httpx")`` says how to add it).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from functools import cached_property

import anyio
import anyio.lowlevel
import anyio.to_thread
import httpx

from bp_helper import log
from bp_helper.engine.service import TokenService
from bp_helper.library.bearer import BoundTokens, NotReady, ProfileAuth


class HttpxAuth(ProfileAuth, httpx.Auth):
    """Bearer token of a bp-helper profile, for the hosts bound to that profile only.

    ``HttpxAuth(profile=None, *, username=None, refuse_unbound=False)``, as
    :class:`~bp_helper.BioProdictAuth` (see :class:`~bp_helper.library.bearer.ProfileAuth`).
    """

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        found = self._bound.token_for(str(request.url))
        if found is None:
            yield request
            return
        service, token = found
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and _replayable(request):
            renewed = _renewal(self._bound, service, token, response)
            if renewed is not None:
                request.headers["Authorization"] = f"Bearer {renewed}"
                yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        found = self._bound.ready(str(request.url))  # a kept token: no thread, no wait
        if isinstance(found, NotReady):
            async with self._lock():
                found = await anyio.to_thread.run_sync(self._bound.token_for, str(request.url))
        if found is None:
            yield request
            return
        service, token = found
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and _replayable(request):
            async with self._lock():
                renewed = await anyio.to_thread.run_sync(
                    _renewal, self._bound, service, token, response
                )
            if renewed is not None:
                request.headers["Authorization"] = f"Bearer {renewed}"
                yield request

    @cached_property
    def _loop_lock(self) -> anyio.lowlevel.RunVar[anyio.Lock]:
        # one lock per event loop: an auth object may outlive a loop (asyncio.run, twice)
        return anyio.lowlevel.RunVar(f"bp-helper HttpxAuth {id(self)}")

    def _lock(self) -> anyio.Lock:
        """This auth's lock in the running event loop."""
        try:
            return self._loop_lock.get()
        except LookupError:
            lock = anyio.Lock()
            self._loop_lock.set(lock)
            return lock


def _replayable(request: httpx.Request) -> bool:
    """Can ``request`` be sent again as it was? Only when its body is held in memory."""
    if isinstance(request.stream, httpx.ByteStream):
        return True
    log.debug("the 401'd request body was streamed and cannot be sent again: not retrying")
    return False


def _renewal(
    bound: BoundTokens, service: TokenService, sent_token: str, response: httpx.Response
) -> str | None:
    return bound.renewed(
        service,
        sent_token,
        response.request.headers.get("Authorization"),
        response.headers.get("WWW-Authenticate", ""),
    )
