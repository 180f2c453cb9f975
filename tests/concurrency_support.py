"""Plumbing for the concurrency tests: many callers of every kind, started at once."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bp_helper import BioProdictAuth
from bp_helper.errors import BpError
from bp_helper.testing import Sandbox
from bp_helper.tokens import StoredToken

from .protocol_support import DOCKER, GIT, attributes, git_request
from .support import Home, executable

# The four kinds of caller: three front-end programs and the requests auth in threads.
KINDS = ("token", "git", "docker", "auth")
PROCESS_KINDS = KINDS[:3]
# --debug lines of bp_helper/engine/service.py
WAITED = "another process refreshed the token meanwhile"
SHARED_FAILURE = "the token request this caller waited for failed: sharing its error"


@dataclass(frozen=True)
class Outcome:
    """What one caller got: its exit status (HTTP status for ``auth``), token and stderr."""

    kind: str
    status: int
    token: str | None
    stderr: str
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.status == (200 if self.kind == "auth" else 0) and bool(self.token)


def command(kind: str, action: str = "get", debug: bool = True) -> list[str]:
    switches = ["--debug"] if debug else []
    if kind == "token":
        return [executable("bp-helper"), *switches, "token"]
    return [executable(GIT if kind == "git" else DOCKER), *switches, action]


def request_data(sandbox: Sandbox, kind: str, *git_extra: str) -> bytes:
    if kind == "git":
        return git_request(sandbox, *git_extra)
    if kind == "docker":
        return sandbox.base_url.encode()
    return b""


def token_of(kind: str, stdout: str) -> str | None:
    """The access token in a front-end's answer."""
    if not stdout.strip():
        return None
    if kind == "token":
        return stdout.strip()
    if kind == "git":
        return attributes(stdout).get("password")
    if kind != "docker" or not stdout.startswith("{"):
        return None  # not a front-end, or docker's "credentials not found" line
    secret = json.loads(stdout).get("Secret")
    return secret if isinstance(secret, str) else None


class Process:
    """A front-end process of ``kind``, its request already on its stdin."""

    def __init__(
        self,
        home: Home,
        sandbox: Sandbox,
        kind: str,
        data: bytes | None = None,
        argv: list[str] | None = None,
        debug: bool = True,
    ) -> None:
        self.kind = kind
        # The whole request waits in a pipe (it is small), so the caller never waits for us.
        reading, writing = os.pipe()
        os.write(writing, request_data(sandbox, kind) if data is None else data)
        os.close(writing)
        try:
            self.popen = subprocess.Popen(
                argv or command(kind, debug=debug),
                stdin=reading,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=home.env,
                cwd=home.root,
                start_new_session=True,  # no controlling terminal
            )
        finally:
            os.close(reading)

    def outcome(self, timeout: float) -> Outcome:
        try:
            out, err = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            out, err = self.popen.communicate()
            raise AssertionError(f"a {self.kind} caller hung: {err.decode()[-2000:]}") from None
        text = out.decode()
        token = token_of(self.kind, text)
        return Outcome(self.kind, self.popen.returncode, token, err.decode(), text)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.communicate()


def call_api_with_auth(sandbox: Sandbox, name: str, auth: BioProdictAuth) -> Outcome:
    """One ``requests.get`` with :class:`BioProdictAuth`, as a user's script would do it."""
    try:
        response = requests.get(
            sandbox.api_url + name,
            auth=auth,
            verify=str(sandbox.ca_path),
            timeout=120,
        )
    except BpError as exc:  # what a script sees when no token can be had
        return Outcome("auth", -1, None, f"bp-helper: {exc.message}\n")
    sent = response.request.headers.get("Authorization", "")
    token = sent.removeprefix("Bearer ") if sent.startswith("Bearer ") else None
    return Outcome("auth", response.status_code, token, "")


class Crowd:
    """Callers of the four kinds, started together; their outcomes collected with a bound."""

    def __init__(self, home: Home, sandbox: Sandbox, pool: ThreadPoolExecutor) -> None:
        self.home = home
        self.sandbox = sandbox
        self.pool = pool
        self.processes: list[Process] = []
        self.threads: list[Future[Outcome]] = []
        self.shared_auth = BioProdictAuth()  # one instance in many threads, as a Session has

    def start(self, kinds: list[str]) -> None:
        """Processes first (they take longer to get going), then the threads.

        Every other process runs with ``--debug``, whose lines tell what each caller did.
        """
        for kind in kinds:
            if kind != "auth":
                debug = len(self.processes) % 2 == 0
                self.processes.append(Process(self.home, self.sandbox, kind, debug=debug))
        for number, kind in enumerate(kinds):
            if kind == "auth":
                auth = self.shared_auth if len(self.threads) % 2 else BioProdictAuth()
                call = self.pool.submit(call_api_with_auth, self.sandbox, f"t{number}", auth)
                self.threads.append(call)

    def outcomes(self, timeout: float = 90) -> list[Outcome]:
        deadline = time.monotonic() + timeout
        found = [p.outcome(max(deadline - time.monotonic(), 1)) for p in self.processes]
        found += [t.result(timeout=max(deadline - time.monotonic(), 1)) for t in self.threads]
        return found

    def kill_all(self) -> None:
        for process in self.processes:
            process.kill()


@contextmanager
def crowd(home: Home, sandbox: Sandbox, threads: int = 8) -> Iterator[Crowd]:
    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        group = Crowd(home, sandbox, pool)
        try:
            yield group
        finally:
            group.kill_all()


def mixed(count: int) -> list[str]:
    """``count`` callers, the four kinds interleaved."""
    return [KINDS[i % len(KINDS)] for i in range(count)]


def store_state(home: Home) -> StoredToken | None:
    """The store as a reader sees it; fails on a corrupt file or a leftover temp file."""
    leftovers = sorted(p.name for p in home.store_dir.glob(".*.tmp"))
    assert not leftovers, f"half-written files left behind: {leftovers}"
    path = home.store_file()
    if not path.exists():
        return None
    assert path.stat().st_mode & 0o777 == 0o600
    return StoredToken.from_json(path.read_bytes())


def describe(outcomes: list[Outcome]) -> str:
    bad = [o for o in outcomes if not o.ok]
    return "; ".join(f"{o.kind} -> {o.status}: {o.stderr.strip()[-400:]!r}" for o in bad[:5])


def count_said(outcomes: list[Outcome], line: str) -> int:
    """How many callers said ``line`` on stderr (processes run with --debug)."""
    return sum(line in o.stderr for o in outcomes)


def error_line(outcome: Outcome) -> str:
    """The one error line a failed caller ended with (docker's is on stdout), no traceback."""
    assert "Traceback" not in outcome.stderr, outcome.stderr[-2000:]
    if outcome.kind == "docker":
        lines = outcome.stdout.strip().splitlines()
        assert len(lines) == 1, outcome.stdout
    else:  # the --debug lines come first
        lines = outcome.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def blocked_on(lock_file: Path, pids: set[int]) -> set[int]:
    """Which of ``pids`` sleep in the kernel waiting for an flock of ``lock_file``
    (Linux's /proc/locks lists a blocked request as ``-> FLOCK ...`` under the lock it waits
    for); a caller that polls the lock never shows up there."""
    inode = lock_file.stat().st_ino
    found = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "->" and fields[2] == "FLOCK":
            pid, where = int(fields[5]), fields[6]
            if pid in pids and where.rsplit(":", 1)[-1] == str(inode):
                found.add(pid)
    return found
