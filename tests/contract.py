"""The contract every front-end passes: a base class of tests that each front-end subclasses.

A front-end is anything that hands the profile's access token to a client: the git and docker
helpers, `bp-helper token`, `curl`, `curl-config` and `netrc`, the HTTPie plugin,
``BioProdictAuth`` and ``HttpxAuth``. A subclass of :class:`FrontEndContract` (named
``Test...``, in ``tests/test_front_end_contract.py``) says how to use its front-end and what its
documentation promises; it inherits every test below. This module holds no ``Test`` class, so
pytest collects nothing here.
"""

from __future__ import annotations

import base64
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import pytest

from bp_helper.errors import BpError
from bp_helper.testing import Sandbox

from .integration_support import Recorder
from .support import Home, in_process_env, sign_in, sign_out


@dataclass(frozen=True)
class Outcome:
    """How one use of a front-end ended. A use that takes two programs (`bp-helper netrc`,
    then curl) ends with the first one that failed, else with the last one."""

    exit_status: int | None  # None: in this process (a library)
    stdout: str = ""
    message: str = ""  # stderr; in this process, the text of the error raised
    error: type[BpError] | None = None  # in this process: the error raised, if any


@dataclass(frozen=True)
class Answer:
    """What a front-end's documentation says it answers in some case."""

    exit_status: int | None  # None: a library, which has none
    stdout: str | None = ""  # None: not the front-end's to say (a client's output, a response)
    error: type[BpError] | None = None


SUCCESS = Answer(0, stdout=None)
IN_PROCESS_SUCCESS = Answer(None, stdout=None)


def ran(done: subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]) -> Outcome:
    stdout, stderr = done.stdout, done.stderr
    if isinstance(stdout, bytes):
        stdout = stdout.decode("utf-8", "replace")
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    return Outcome(done.returncode, stdout, stderr)


def credential_in(authorization: str) -> str:
    """The credential an ``Authorization`` header carries: a Bearer token, or a Basic password."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic":
        return base64.b64decode(value).decode().partition(":")[2]
    assert scheme.lower() == "bearer", authorization
    return value


class FrontEndContract(ABC):
    """What every front-end promises, against the sandbox (fixtures ``sandbox`` and ``home``).

    A subclass implements :meth:`use` and sets the class attributes below; two of them take
    tests away where they cannot apply (a front-end that is never told the host, or never
    sees the API's answer): such a test is not collected for that subclass, rather than
    skipped.
    """

    # Is the front-end told the host it is for? `bp-helper token` and `curl-config` are not:
    # their documentation tells the user to give the token only to bound hosts.
    takes_a_host: ClassVar[bool]
    # Does the front-end see the API's 401, and so can renew a revoked token and try again?
    sees_401: ClassVar[bool]
    # What the documentation says it answers: for a bound host with a login; for a host the
    # profile is not bound to (when takes_a_host); for a profile nobody is logged in to.
    success: ClassVar[Answer] = SUCCESS
    unbound: ClassVar[Answer]
    logged_out: ClassVar[Answer]

    NOT_APPLICABLE: ClassVar[dict[str, str]] = {
        "takes_a_host": "test_an_unbound_host_gets_nothing",
        "sees_401": "test_a_revoked_token_is_renewed_once",
    }

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("Test"):
            needed = ["takes_a_host", "sees_401", "logged_out"]
            if getattr(cls, "takes_a_host", False):
                needed.append("unbound")
            missing = [name for name in needed if not hasattr(cls, name)]
            if missing:
                raise TypeError(f"{cls.__name__} must set {', '.join(missing)}")
        for attribute, test in cls.NOT_APPLICABLE.items():
            if not getattr(cls, attribute, True):
                setattr(cls, test, None)  # pytest collects no test of that name here

    @abstractmethod
    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        """Use the front-end for ``url`` as its documentation shows. One that hands out a
        credential (a helper, `bp-helper token`) then sends it to ``url`` the way its client
        would, if it answered; one that makes the request itself makes it."""

    def unbound_urls(self, other: Recorder) -> list[str]:
        """URLs on hosts the profile is not bound to, all served by ``other``: another port of
        the bound address, and another name (the sandbox is bound as 127.0.0.1:PORT)."""
        port = other.netloc.rsplit(":", 1)[1]
        return [f"{other.url}another-port", f"http://localhost:{port}/another-name"]

    # -- the contract ------------------------------------------------------------------------

    def check(self, outcome: Outcome, expected: Answer) -> None:
        assert (outcome.exit_status, outcome.error) == (expected.exit_status, expected.error), (
            outcome
        )
        if expected.stdout is not None:
            assert outcome.stdout == expected.stdout, outcome

    def test_a_bound_host_gets_a_token_the_api_accepts(self, sandbox: Sandbox, home: Home) -> None:
        sign_in(home)
        token = home.stored()["access_token"]
        sandbox.reset_counters()
        outcome = self.use(home, sandbox, sandbox.api_url + "contract")
        self.check(outcome, self.success)
        (seen,) = sandbox.api_requests
        assert seen.status == 200, outcome
        assert credential_in(seen.headers["authorization"]) == token
        assert sandbox.requests == []  # the token came from the store

    def test_an_unbound_host_gets_nothing(self, sandbox: Sandbox, home: Home) -> None:
        sign_in(home)
        token = home.stored()["access_token"]
        sandbox.reset_counters()
        with Recorder() as other:
            for url in self.unbound_urls(other):
                outcome = self.use(home, sandbox, url)
                self.check(outcome, self.unbound)
                assert token not in outcome.stdout + outcome.message, url
            credentials = [s.headers.get("authorization") for s in other.seen]
            assert credentials == [None] * len(other.seen)  # no request, or none with a credential
        assert (sandbox.requests, sandbox.api_requests) == ([], [])

    def test_a_logged_out_profile_gets_the_documented_non_answer(
        self, sandbox: Sandbox, home: Home
    ) -> None:
        sign_in(home)
        sign_out(home)
        sandbox.reset_counters()
        outcome = self.use(home, sandbox, sandbox.api_url + "logged-out")
        self.check(outcome, self.logged_out)
        lines = outcome.message.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in outcome.message, outcome
        assert "bp-helper login" in lines[0], outcome
        assert (sandbox.requests, sandbox.api_requests) == ([], [])  # nothing asked, nothing sent

    def test_a_revoked_token_is_renewed_once(self, sandbox: Sandbox, home: Home) -> None:
        sign_in(home)
        old = home.stored()["access_token"]
        sandbox.revoke_access_tokens()  # the server forgets it; the store still holds it
        sandbox.reset_counters()
        outcome = self.use(home, sandbox, sandbox.api_url + "revoked")
        self.check(outcome, self.success)
        new = home.stored()["access_token"]
        assert new != old
        assert [r.grant_type for r in sandbox.requests] == ["refresh_token"]
        first, second = sandbox.api_requests
        assert (first.status, second.status) == (401, 200)
        assert credential_in(first.headers["authorization"]) == old
        assert credential_in(second.headers["authorization"]) == new


class InProcessContract(FrontEndContract):
    """A front-end that is a library: it runs in this process, in the home's environment,
    and fails by raising a :class:`BpError` rather than with an exit status."""

    success = IN_PROCESS_SUCCESS

    @pytest.fixture(autouse=True)
    def _as_the_user(self, home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
        in_process_env(home, monkeypatch)

    def outcome_of(self, call: Callable[[], object]) -> Outcome:
        """``call()``'s outcome: nothing to report, or the BpError it raised."""
        try:
            call()
        except BpError as exc:
            return Outcome(None, message=str(exc), error=type(exc))
        return Outcome(None)
