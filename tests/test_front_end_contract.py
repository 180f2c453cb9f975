"""Every front-end runs the contract of tests/contract.py: each class here only says how to use
its front-end and what its documentation promises (docs/protocols.md, docs/tools.md,
docs/python-and-r.md, and the README's exit statuses)."""

from __future__ import annotations

import asyncio
import json
import ssl
from urllib.parse import urlsplit

import httpx
import requests

import bp_helper
from bp_helper.errors import LoginRequired
from bp_helper.testing import Sandbox

from .contract import Answer, FrontEndContract, InProcessContract, Outcome, ran
from .integration_support import Recorder, run_curl
from .protocol_support import DOCKER, GIT, attributes, call_api, git_request, run_bytes
from .support import Home

NOT_FOUND = "credentials not found in native keychain\n"
LOGIN_NEEDED = Answer(3)  # the README: "3 login needed but nobody can be asked", stdout empty


class TestGitContract(FrontEndContract):
    """`git-credential-bioprodict get`, asked as git >= 2.46 asks (authtype capability); the
    answer is sent as git sends it: `Authorization: <authtype> <credential>`."""

    takes_a_host = True
    sees_401 = False  # git calls `erase` and asks again; the helper never sees the API
    unbound = Answer(0)  # no answer, so git asks its next helper
    logged_out = Answer(0)  # a one-line hint on stderr, no answer

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        parts = urlsplit(url)
        request = b"capability[]=authtype\n" + git_request(
            sandbox, protocol=parts.scheme, host=parts.netloc
        )
        done = run_bytes(home, GIT, ["get"], request)
        answer = attributes(done.stdout)
        if "credential" in answer:
            call_api(sandbox, f"{answer['authtype']} {answer['credential']}", url)
        return ran(done)


class TestDockerContract(FrontEndContract):
    """`docker-credential-bioprodict get` with the server as the docker CLI passes it; the
    secret is sent as a Bearer token."""

    takes_a_host = True
    sees_401 = False
    unbound = Answer(1, NOT_FOUND)
    logged_out = Answer(1, NOT_FOUND)  # and a login hint on stderr

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        done = run_bytes(home, DOCKER, ["get"], urlsplit(url).netloc.encode())
        if done.returncode == 0:
            call_api(sandbox, f"Bearer {json.loads(done.stdout)['Secret']}", url)
        return ran(done)


class TestTokenContract(FrontEndContract):
    """`bp-helper token`, its output sent as a Bearer token by the caller's own program."""

    takes_a_host = False
    sees_401 = False  # the caller's program sees the 401 (`bp-helper token --renew`)
    logged_out = LOGIN_NEEDED

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        done = home.bp("token")
        if done.returncode == 0:
            call_api(sandbox, f"Bearer {done.stdout.strip()}", url)
        return ran(done)


class TestCurlContract(FrontEndContract):
    """`bp-helper curl URL`: curl with the token, which refuses an unbound host (status 2)."""

    takes_a_host = True
    sees_401 = False  # curl runs once; its exit status and output are the caller's
    unbound = Answer(2)
    logged_out = LOGIN_NEEDED

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        return ran(home.bp("curl", "-sS", "--fail", url))


class TestCurlConfigContract(FrontEndContract):
    """`bp-helper curl-config | curl -K - URL` with the real curl."""

    takes_a_host = False  # curl sends the header to every URL it is given (docs/tools.md)
    sees_401 = False
    logged_out = LOGIN_NEEDED

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        config = home.bp("curl-config")
        if config.returncode != 0:
            return ran(config)
        return ran(run_curl(home, "-sS", "--fail", "-K", "-", url, input=config.stdout))


class TestNetrcContract(FrontEndContract):
    """`bp-helper netrc --output FILE`, then the real `curl --netrc-file FILE URL`, which sends
    the token as a Basic password (the sandbox API is told to take that)."""

    takes_a_host = True
    sees_401 = False
    unbound = Answer(0, stdout=None)  # curl goes there without credentials
    logged_out = LOGIN_NEEDED

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        path = home.root / "contract.netrc"
        written = home.bp("netrc", "--output", str(path))
        if written.returncode != 0:
            return ran(written)
        sandbox.accept_basic_token = True
        return ran(run_curl(home, "-sS", "--fail", "--netrc-file", str(path), url))

    def unbound_urls(self, other: Recorder) -> list[str]:
        """Another name only: netrc matches host names, not ports (docs/tools.md), so another
        port of the bound address gets the entry; docs/security.md says so."""
        return [url for url in super().unbound_urls(other) if "//localhost:" in url]


class TestHttpieContract(FrontEndContract):
    """`http --auth-type=bioprodict URL`, the real HTTPie with the installed plugin."""

    takes_a_host = True
    sees_401 = True
    unbound = Answer(1)  # stops with an error before anything is sent
    logged_out = Answer(1)  # "http: error: LoginRequired: ...", before anything is sent

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        args = ["--ignore-stdin", "--check-status", "--auth-type=bioprodict", "GET", url]
        return ran(home.run(args, program="http"))


class TestBioProdictAuthContract(InProcessContract):
    """`requests.get(URL, auth=bp_helper.BioProdictAuth())` in this process."""

    takes_a_host = True
    sees_401 = True
    unbound = Answer(None, stdout=None)  # sent without the token
    logged_out = Answer(None, error=LoginRequired)

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        return self.outcome_of(
            lambda: requests.get(url, auth=bp_helper.BioProdictAuth(), timeout=30)
        )


class TestHttpxAuthContract(InProcessContract):
    """`httpx.get(URL, auth=bp_helper.HttpxAuth())` in this process."""

    takes_a_host = True
    sees_401 = True
    unbound = Answer(None, stdout=None)  # sent without the token
    logged_out = Answer(None, error=LoginRequired)

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        verify = ssl.create_default_context(cafile=str(sandbox.ca_path))
        return self.outcome_of(
            lambda: httpx.get(url, auth=bp_helper.HttpxAuth(), verify=verify, timeout=30)
        )


class TestAsyncHttpxAuthContract(TestHttpxAuthContract):
    """`await httpx.AsyncClient(auth=bp_helper.HttpxAuth()).get(URL)` in an event loop."""

    def use(self, home: Home, sandbox: Sandbox, url: str) -> Outcome:
        verify = ssl.create_default_context(cafile=str(sandbox.ca_path))

        async def get() -> httpx.Response:
            async with httpx.AsyncClient(
                auth=bp_helper.HttpxAuth(), verify=verify, timeout=30
            ) as client:
                return await client.get(url)

        return self.outcome_of(lambda: asyncio.run(get()))
