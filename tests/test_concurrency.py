"""Many callers at once: one refresh for a burst, no deadlock after a kill, no torn store.

Every test mixes the front-ends a user runs side by side: ``bp-helper token``, the git and
docker helpers' ``get`` (as processes, against the real sandbox over HTTPS) and
``BioProdictAuth`` in threads of this process. The sandbox is slowed so that the refresh is
still in flight while the others arrive.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import pytest

import bp_helper
from bp_helper import BioProdictAuth
from bp_helper.engine.store import TokenStore
from bp_helper.errors import BpError
from bp_helper.testing import DEMO_USERS, Sandbox
from bp_helper.tokens import StoredToken

from .concurrency_support import (
    PROCESS_KINDS,
    SHARED_FAILURE,
    WAITED,
    Outcome,
    Process,
    blocked_on,
    call_api_with_auth,
    command,
    count_said,
    crowd,
    describe,
    error_line,
    mixed,
    store_state,
)
from .hostile_support import HostileServer, Received, send_json
from .protocol_support import call_api, git_request
from .support import Home, executable, expire_stored_token, in_process_env, login, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("unmeasured_programs")]

SLOW = 1.5  # seconds the sandbox takes per token request: the race window
DID_NOT_HANG = 20.0  # seconds; the lock timeout is 55 s, a stuck waiter would take that long


@pytest.fixture
def user(home: Home, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Home:
    """alice, logged in; this process (its threads) uses the same home."""
    sign_in(home)
    in_process_env(home, monkeypatch)
    return home


def assert_one_new_token(outcomes: list[Outcome], before: StoredToken, home: Home) -> str:
    """Everyone succeeded with the same token, the one now stored, and it is a new one."""
    assert all(o.ok for o in outcomes), describe(outcomes)
    after = store_state(home)
    assert after is not None
    assert {o.token for o in outcomes} == {after.access_token}
    assert after.access_token != before.access_token
    assert after.refresh_token not in (None, before.refresh_token)  # the rotated one is kept
    for secret in (before.refresh_token, after.refresh_token):
        assert secret and not any(secret in o.stderr + o.stdout for o in outcomes)
    return after.access_token


def assert_refresh_token_works(home: Home, sandbox: Sandbox) -> None:
    """The stored refresh token is the server's current one: the next refresh succeeds."""
    expire_stored_token(home)
    sandbox.delay = 0.0
    sandbox.reset_counters()
    done = home.bp("token", timeout=60)
    assert done.returncode == 0, done.stderr
    assert [(r.grant_type, r.status) for r in sandbox.requests] == [("refresh_token", 200)]


# -- a burst on an expired token ---------------------------------------------------------


@pytest.mark.parametrize("fault", [None, "http503"])
def test_burst_of_32_callers_makes_one_refresh(
    sandbox: Sandbox, user: Home, fault: str | None
) -> None:
    """Everyone gets the one new token; with a 5xx first, the holder's retry is that one."""
    before = expire_stored_token(user)
    sandbox.reset_counters()
    sandbox.delay = SLOW
    if fault:
        sandbox.inject(fault)  # the first refresh fails; the holder's retry succeeds
    with crowd(user, sandbox) as group:
        group.start(mixed(32))
        outcomes = group.outcomes()
    assert sorted(o.kind for o in outcomes) == sorted(mixed(32))
    token = assert_one_new_token(outcomes, before, user)
    expected = [("refresh_token", 503)] if fault else []
    assert [(r.grant_type, r.status) for r in sandbox.requests] == [
        *expected,
        ("refresh_token", 200),
    ]
    assert {r.headers["authorization"] for r in sandbox.api_requests} == {f"Bearer {token}"}
    assert len(sandbox.api_requests) == mixed(32).count("auth")  # no 401 and retry either
    assert count_said(outcomes, WAITED) >= 1, "no process waited: the race window was missed"
    assert_refresh_token_works(user, sandbox)


OUTAGES = {
    # fault: (what callers are told, requests per retry cycle, sandbox delay)
    "http503": ("is unavailable (HTTP 503", 3, 1.0),
    "hang": ("did not answer within 2 s", 1, 0.0),  # a timeout is not retried
}


@pytest.mark.parametrize(
    ("fault", "still_valid"), [("http503", False), ("hang", False), ("hang", True)]
)
def test_burst_during_an_outage_shares_one_retry_cycle(
    sandbox: Sandbox, user: Home, fault: str, still_valid: bool
) -> None:
    """Waiters share the holder's failure: no queue of retry cycles, no lock timeouts.

    With the old access token expired everyone gets the server's error; while it is still
    valid (only due for a refresh) everyone gets the old token.
    """
    user.write_config("[profiles.default]\ntimeout = 2\n")
    before = StoredToken.from_json(user.store_file().read_bytes())
    now = time.time()
    due = before._replace(expires_at=now + 60, obtained_at=now - 3600)  # within the margin
    stale = due if still_valid else before._replace(expires_at=1.0, obtained_at=0.0)
    user.store_file().write_bytes(stale.to_json())
    told, per_cycle, delay = OUTAGES[fault]
    sandbox.reset_counters()
    sandbox.delay = delay
    sandbox.inject(fault, count=200, **({"seconds": 30} if fault == "hang" else {}))
    started = time.monotonic()
    with crowd(user, sandbox) as group:
        group.start(mixed(32))
        outcomes = group.outcomes()
    took = time.monotonic() - started
    if still_valid:
        assert all(o.ok and o.token == before.access_token for o in outcomes), describe(outcomes)
    for outcome in [] if still_valid else outcomes:
        assert not outcome.ok and outcome.status in (1, -1), outcome
        line = error_line(outcome)
        assert line.startswith("bp-helper: the token server") and told in line, line
    assert count_said(outcomes, SHARED_FAILURE if not still_valid else told) >= 1
    # one cycle, or two when a straggler started after the first had failed (not 32)
    assert len(sandbox.requests) <= 2 * per_cycle, [r.status for r in sandbox.requests]
    assert took < 40, f"the burst took {took:.0f} s: callers queued up for the lock"
    assert store_state(user) == stale  # nothing lost, nothing half-changed
    sandbox.clear_faults()  # the server is back: the kept refresh token still works
    assert_refresh_token_works(user, sandbox)


def test_threads_renewing_a_rejected_token_make_one_refresh(sandbox: Sandbox, user: Home) -> None:
    """The server drops the access tokens: 16 threads get a 401 at once, one renews."""
    before = StoredToken.from_json(user.store_file().read_bytes())
    sandbox.expire_access_tokens()
    sandbox.reset_counters()
    sandbox.delay = SLOW
    with crowd(user, sandbox, threads=16) as group:
        group.start(["auth"] * 16)
        outcomes = group.outcomes()
    assert_one_new_token(outcomes, before, user)
    assert [(r.grant_type, r.status) for r in sandbox.requests] == [("refresh_token", 200)]
    statuses = [r.status for r in sandbox.api_requests]
    assert statuses.count(200) == 16 and 1 <= statuses.count(401) <= 16, statuses


def _child_calls_api(sandbox: Sandbox, results: Queue[int | str]) -> None:
    try:
        results.put(call_api_with_auth(sandbox, "child", BioProdictAuth()).status)
    except Exception as exc:  # anything but a status fails the test below
        results.put(repr(exc))


def test_child_forked_while_a_thread_refreshes_is_not_stuck(sandbox: Sandbox, user: Home) -> None:
    """multiprocessing forks while a thread holds the profile's lock: the child goes on."""
    expire_stored_token(user)
    sandbox.reset_counters()
    sandbox.inject("hang", seconds=3)  # holds the thread in its refresh, then lets it retry
    with crowd(user, sandbox, threads=1) as group:
        group.start(["auth"])
        deadline = time.monotonic() + 30
        while not sandbox.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sandbox.requests, "the thread never reached the token server"
        fork = multiprocessing.get_context("fork")  # Linux's default before Python 3.14
        results: Queue[int | str] = fork.Queue()
        child = fork.Process(target=_child_calls_api, args=(sandbox, results))
        child.start()
        try:
            answer = results.get(timeout=DID_NOT_HANG)
        except queue.Empty:
            answer = "no answer: stuck on a lock the forking process's thread held"
        finally:
            child.kill()
            child.join()
        (outcome,) = group.outcomes()
    assert outcome.ok, outcome
    assert answer == 200
    assert [(r.grant_type, r.status) for r in sandbox.requests] == [
        ("refresh_token", 0),
        ("refresh_token", 200),
    ]


# -- a lock holder killed mid-refresh ---------------------------------------------------


@pytest.mark.parametrize("holder_kind", PROCESS_KINDS)
def test_killed_lock_holder_blocks_nobody(sandbox: Sandbox, user: Home, holder_kind: str) -> None:
    """kill -9 of a caller mid-refresh: the others go on, nothing is torn or lost."""
    before = expire_stored_token(user)
    sandbox.reset_counters()
    sandbox.inject("hang", seconds=120)  # the holder's refresh never comes back
    with crowd(user, sandbox) as group:
        holder = Process(user, sandbox, holder_kind)
        deadline = time.monotonic() + 30
        while not sandbox.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sandbox.requests, f"the {holder_kind} holder never reached the token server"
        group.start(mixed(8))  # these queue behind the holder's lock
        time.sleep(0.5)  # (not an assertion: lets most of them reach the lock first)
        os.kill(holder.popen.pid, signal.SIGKILL)
        killed = time.monotonic()
        outcomes = group.outcomes()
        waited = time.monotonic() - killed
        holder.kill()
    assert holder.popen.returncode == -signal.SIGKILL
    assert waited < DID_NOT_HANG, f"callers were stuck for {waited:.0f} s after the kill"
    assert_one_new_token(outcomes, before, user)
    # the holder's refresh never reached the grant (no refresh token consumed): one retry
    assert [(r.grant_type, r.status) for r in sandbox.requests] == [
        ("refresh_token", 0),
        ("refresh_token", 200),
    ]
    assert_refresh_token_works(user, sandbox)


def test_writer_killed_mid_write_leaves_nothing_behind(sandbox: Sandbox, user: Home) -> None:
    """The temp file of a writer killed between write and rename is removed by the next one."""
    killed = user.store_dir / f".default.json.{os.urandom(6).hex()}.tmp"
    killed.write_bytes(user.store_file().read_bytes()[:40])  # as a kill mid-write leaves it
    other = user.store_dir / f".default.json.json.{os.urandom(6).hex()}.tmp"
    other.write_bytes(b"{}")  # profile "default.json" writing at this very moment
    expire_stored_token(user)
    done = user.bp("token")
    assert done.returncode == 0, done.stderr
    assert not killed.exists()
    assert other.exists()  # another profile's file: not ours to remove
    other.unlink()
    assert store_state(user) is not None


# -- logout and login while others ask for tokens ------------------------------------------


class StoreWatcher(threading.Thread):
    """Reads the token file without a lock, as the cached path does, as often as it can."""

    def __init__(self, home: Home) -> None:
        super().__init__(daemon=True)
        self.path = home.store_file()
        self.stop = threading.Event()
        self.reads = 0
        self.problems: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                continue
            self.reads += 1
            try:
                record = StoredToken.from_json(raw)
            except ValueError as exc:
                self.problems.append(f"{exc}: {raw[:80]!r}")
                continue
            if not (record.access_token and record.refresh_token and record.username == "alice"):
                self.problems.append(f"an incomplete record: {sorted(record._asdict())}")


def test_logout_and_login_racing_token_callers(sandbox: Sandbox, user: Home) -> None:
    """Every caller gets a token or "login needed"; no reader ever sees a torn store."""
    sandbox.token_lifetime = 2  # stale within a second: the token callers keep refreshing
    sandbox.delay = 0.2
    login_argv = [executable("bp-helper"), "login", "--username", "alice", "--password-stdin"]
    logout_argv = [executable("bp-helper"), "logout"]
    password = DEMO_USERS["alice"].password.encode()
    watcher = StoreWatcher(user)
    watcher.start()
    outcomes: list[Outcome] = []
    try:
        for _ in range(4):
            with crowd(user, sandbox, threads=0) as group:
                group.start(["token"] * 3)
                group.processes.append(Process(user, sandbox, "logout", argv=logout_argv))
                group.start(["token"] * 3)
                group.processes.append(Process(user, sandbox, "login", password, login_argv))
                outcomes += group.outcomes()
    finally:
        watcher.stop.set()
        watcher.join()
    assert watcher.reads > 0 and not watcher.problems, watcher.problems[:3]
    for outcome in outcomes:
        if outcome.kind in ("login", "logout") or outcome.ok:
            assert outcome.status == 0, outcome.stderr
        else:  # logged out at that moment: the documented "login needed" answer
            assert outcome.status == 3, outcome.stderr
            assert "login needed" in outcome.stderr.splitlines()[-1]
    assert sum(o.ok for o in outcomes if o.kind == "token") >= 1
    store_state(user)  # parses (or is absent), no temp files left
    login(user)
    done = user.bp("token")
    assert done.returncode == 0 and done.stdout.strip() == user.stored()["access_token"]


# -- git erase and get at the same time ------------------------------------------------------


def test_git_erase_and_get_race(sandbox: Sandbox, user: Home) -> None:
    """git rejecting a token (erase) while other gets run: at most one refresh per token."""
    sandbox.delay = 0.5
    for _ in range(2):
        rejected = user.stored()["access_token"]
        sandbox.reset_counters()
        erase = git_request(sandbox, "username=alice", f"password={rejected}")
        with crowd(user, sandbox, threads=0) as group:
            for _ in range(6):
                group.start(["git"])
                group.processes.append(
                    Process(user, sandbox, "erase", erase, command("git", "erase"))
                )
            outcomes = group.outcomes()
        gets = [o for o in outcomes if o.kind == "git"]
        assert all(o.ok for o in gets), describe(gets)
        for o in outcomes:
            if o.kind == "erase":
                assert o.status == 0 and o.token is None, o.stderr
        # erases name one token: only the first that finds it drops it, so one refresh at most
        refreshes = [(r.grant_type, r.status) for r in sandbox.requests]
        assert refreshes in ([], [("refresh_token", 200)])
        record = store_state(user)
        assert record is not None and record.refresh_token
        given = {o.token for o in gets}
        assert given <= {rejected, record.access_token} or (
            not record.access_token and given == {rejected}
        )
        for token in given:
            assert call_api(sandbox, f"Bearer {token}").status_code == 200
        if not record.access_token:  # every get ran before the erases: the next one refreshes
            done = Process(user, sandbox, "git").outcome(60)
            assert done.ok, done.stderr
    assert_refresh_token_works(user, sandbox)


# -- a refresh that fails, shared --------------------------------------------------------

REJECTED_CLIENT = b'{"error":"invalid_client","error_description":"Bad client credentials"}'


@contextmanager
def refusing_server(tmp_path: Path) -> Iterator[tuple[HostileServer, Home, StoredToken, Any]]:
    """A token server that refuses the client once ``answering`` is set, and a home whose
    stored token (for that server) is expired: the server, home, stored token, event."""
    answering = threading.Event()

    def answer(request: Received, conn: socket.socket) -> None:
        answering.wait(120)
        send_json(conn, 401, REJECTED_CLIENT, 'WWW-Authenticate: Basic realm="oauth"')

    with HostileServer(answer, tmp_path) as server:
        bundle = tmp_path / "ca.pem"
        bundle.write_bytes(server.ca_path.read_bytes())
        env = {
            "BIOPRODICT_TOKEN_URL": server.url(),
            "BIOPRODICT_CLIENT_ID": "hostile-client",
            "BIOPRODICT_CLIENT_SECRET": "hostile-client-s3cret",
            "REQUESTS_CA_BUNDLE": str(bundle),
        }
        home = Home.make(tmp_path / "home", env)
        home.write_config("[profiles.default]\ntimeout = 60\n")
        stale = StoredToken(
            access_token="expired-access-token",
            expires_at=1.0,
            obtained_at=0.0,
            username="alice",
            token_url=server.url(),
            client_id="hostile-client",
            refresh_token="the-refresh-token",
            login="alice",
        )
        TokenStore(home.store_dir, "default").save(stale)
        try:
            yield server, home, stale, answering
        finally:
            answering.set()


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_a_failed_refresh_reaches_every_waiter_from_one_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 processes and 8 threads wait (asleep on the lock) for a holder whose refresh the
    server refuses: every one of them gets that one refusal, and the server sees one request.

    The refusal (of the client) says nothing transient: before, only transient failures
    were shared, and each waiter took the lock in turn to be refused again.
    """
    with refusing_server(tmp_path) as (server, home, stale, answering):
        in_process_env(home, monkeypatch)
        waiting = []  # threads of this process that went to wait for the lock
        real_wait = TokenStore.wait_while_locked

        def wait_while_locked(store: TokenStore, *args: Any) -> StoredToken | None:
            waiting.append(threading.get_ident())
            return real_wait(store, *args)

        monkeypatch.setattr(TokenStore, "wait_while_locked", wait_while_locked)
        holder = Process(home, None, "token", data=b"")  # type: ignore[arg-type]
        until_sent = time.monotonic() + 30
        while not server.received and time.monotonic() < until_sent:
            time.sleep(0.02)
        assert server.received, "the holder never reached the token server"
        waiters = [Process(home, None, "token", data=b"", debug=n % 2 == 0) for n in range(16)]  # type: ignore[arg-type]
        with ThreadPoolExecutor(max_workers=8) as pool:
            threads = [pool.submit(_token_or_error) for _ in range(8)]
            pids = {w.popen.pid for w in waiters}
            asleep: set[int] = set()
            until_asleep = time.monotonic() + 60
            while (asleep != pids or len(waiting) < 8) and time.monotonic() < until_asleep:
                time.sleep(0.05)
                asleep = blocked_on(home.store_dir / "default.lock", pids)
            answering.set()
            assert asleep == pids, f"{len(pids - asleep)} waiters never slept on the lock"
            assert len(waiting) == 8
            outcomes = [w.outcome(60) for w in waiters]
            errors = [t.result(timeout=60) for t in threads]
        held = holder.outcome(60)
    assert len(server.received) == 1  # the holder's request alone
    told = error_line(held)
    assert held.status == 1 and "rejected client id 'hostile-client'" in told, told
    assert [(o.status, error_line(o)) for o in outcomes] == [(1, told)] * 16
    assert all(SHARED_FAILURE in o.stderr for o in outcomes[::2])
    assert errors == [("ClientRejected", told.removeprefix("bp-helper: "))] * 8
    assert store_state(home) == stale  # nothing lost: the refresh token is still there


def _token_or_error() -> tuple[str, str]:
    try:
        bp_helper.token()
    except BpError as exc:
        return type(exc).__name__, exc.message
    return "no error", ""


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_a_waiter_on_the_cached_path_shares_the_failure_of_the_refresh_it_waited_for(
    tmp_path: Path,
) -> None:
    """``bp-helper token`` and ``git-credential-bioprodict get`` find the token due while a
    holder refreshes: they sleep on the lock on the cached path, and when the holder's
    refresh is refused, the full path they go to then shares that refusal (they waited for
    it) instead of asking again: the server sees one request."""
    with refusing_server(tmp_path) as (server, home, stale, answering):
        holder = Process(home, None, "token", data=b"")  # type: ignore[arg-type]
        until_sent = time.monotonic() + 30
        while not server.received and time.monotonic() < until_sent:
            time.sleep(0.02)
        assert server.received, "the holder never reached the token server"
        timed = Home(home.root, {**home.env, "PYTHONPROFILEIMPORTTIME": "1"})
        netloc = server.url().split("/")[2]
        waiters = [
            Process(timed, None, "token", data=b"", debug=False),  # type: ignore[arg-type]
            Process(timed, None, "git", f"protocol=https\nhost={netloc}\n".encode(), debug=False),  # type: ignore[arg-type]
        ]
        pids = {w.popen.pid for w in waiters}
        asleep: set[int] = set()
        until_asleep = time.monotonic() + 60
        while asleep != pids and time.monotonic() < until_asleep:
            time.sleep(0.05)
            asleep = blocked_on(home.store_dir / "default.lock", pids)
        answering.set()
        assert asleep == pids, f"{len(pids - asleep)} waiters never slept on the lock"
        outcomes = [w.outcome(60) for w in waiters]
        held = holder.outcome(60)
    assert len(server.received) == 1  # the holder's request alone
    told = error_line(held)
    assert held.status == 1 and "rejected client id 'hostile-client'" in told, told
    for outcome, full in zip(
        outcomes, ["bp_helper.commands.cli", "bp_helper.protocols.git"], strict=True
    ):
        report = [line for line in outcome.stderr.splitlines() if line.startswith("import time:")]
        said = [line for line in outcome.stderr.splitlines() if line not in report]
        assert (outcome.status, said[-1:]) == (1, [told]), outcome
        modules = [line.rsplit("|", 1)[-1].strip() for line in report]
        # it waited on the cached path, then went to the full path
        assert modules.index("bp_helper.waiting") < modules.index(full), outcome.kind
    assert store_state(home) == stale
