"""A local, faithful stand-in of the Bio-Prodict token server, on loopback HTTPS.

``with Sandbox() as sandbox:`` starts it on a random port; clients trust ``sandbox.ca_path``. It
serves ``POST /oauth/oauth/token`` (password and refresh_token grants, see ``issuer.py``) and a
protected resource under ``/api/``; an Auth0-style ``POST /oauth/token`` (client credentials)
and a prediction-style resource under ``/prediction/``, reached as another host (``localhost``
rather than the address, see ``auth0.py``); records every request, and can inject faults.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import TextIO

from bp_helper.install import install_command
from bp_helper.testing.auth0 import (
    AUTH0_TOKEN_PATH,
    MACHINE_TOKEN_LIFETIME,
    PREDICTION_AUDIENCE,
    PREDICTION_PATH,
    ClientCredentialsIssuer,
    MachineClient,
)
from bp_helper.testing.handler import FAULTS, Fault, RecordedRequest, SandboxServer
from bp_helper.testing.issuer import TOKEN_PATH, DemoClient, DemoUser, TokenIssuer
from bp_helper.testing.usage import usage

__all__ = ["RecordedRequest", "Sandbox"]


class Sandbox:
    """The sandbox token server; see the module docstring. Start it once, stop it once."""

    def __init__(
        self,
        *,
        token_lifetime: int = 43200,
        refresh_lifetime: int = 30 * 86400,
        host: str = "127.0.0.1",
        port: int = 0,
        rotate_refresh_tokens: bool = True,
        access_token_prefix: str = "",
        refresh_token_prefix: str = "",
        machine_token_lifetime: int = MACHINE_TOKEN_LIFETIME,
        bearer_client_errors: bool = False,  # a bad client: django-oauth-toolkit's 401
    ) -> None:
        self.token_lifetime = token_lifetime
        self.machine_token_lifetime = machine_token_lifetime
        self.delay = 0.0
        self.clock_offset = 0.0  # seconds added to the Date header (a server clock that is off)
        self.accept_basic_token = False
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._tokens = TokenIssuer(
            self._lock,
            refresh_lifetime=refresh_lifetime,
            rotate_refresh_tokens=rotate_refresh_tokens,
            access_token_prefix=access_token_prefix,
            refresh_token_prefix=refresh_token_prefix,
            bearer_client_errors=bearer_client_errors,
        )
        self._machines = ClientCredentialsIssuer(
            self._lock, access_token_prefix=access_token_prefix
        )
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._api_requests: list[RecordedRequest] = []
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: Path | None = None
        self._ca_pem = b""
        self._netloc = ""
        self._used = False
        self.ca_file: Path | None = None  # a stable copy of the CA (`sandbox --ca-file`), kept

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Sandbox:
        with self._lock:
            if self._used:
                raise RuntimeError("a Sandbox can be started only once")
            self._used = True
        try:
            import trustme  # the sandbox extra
        except ImportError as exc:
            raise RuntimeError(f"the sandbox needs trustme: {install_command('sandbox')}") from exc
        ca = trustme.CA(organization_name="bp-helper sandbox")
        identities = ["127.0.0.1", "localhost", "::1"]
        if self._host not in identities:
            identities.insert(0, self._host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        ca.issue_cert(*identities).configure_cert(context)
        server = SandboxServer((self._host, self._port), self, context)
        host, port = str(server.server_address[0]), int(server.server_address[1])
        self._netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._ca_pem = ca.cert_pem.bytes()
        self._tmpdir = Path(tempfile.mkdtemp(prefix="bp-sandbox-"))
        self.ca_path.write_bytes(self._ca_pem)
        if self.ca_file is not None:
            self.ca_file.parent.mkdir(parents=True, exist_ok=True)
            self.ca_file.write_bytes(self._ca_pem)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            name=f"bp-sandbox-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            server, thread, tmpdir = self._server, self._thread, self._tmpdir
            self._server, self._thread, self._used = None, None, True
        self._stopping.set()  # ends "hang" faults and delays at once
        if server is not None:
            deadline = time.monotonic() + 3.0
            server.shutdown()
            server.server_close()
            server.abort(deadline)
        if thread is not None:
            thread.join(1.0)
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def usernames_ignore_case(self) -> bool:
        """Password grants find users whatever the case; answers spell them as stored."""
        return self._tokens.usernames_ignore_case

    @usernames_ignore_case.setter
    def usernames_ignore_case(self, value: bool) -> None:
        self._tokens.usernames_ignore_case = value

    @property
    def netloc(self) -> str:
        if not self._netloc:
            raise RuntimeError("the sandbox is not started")
        return self._netloc

    @property
    def base_url(self) -> str:
        return f"https://{self.netloc}"

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    @property
    def machine_token_url(self) -> str:
        """The Auth0-style client-credentials token URL (the "tenant")."""
        return self.base_url + AUTH0_TOKEN_PATH

    @property
    def prediction_netloc(self) -> str:
        """The prediction API's host: this server under another name than the token URL's."""
        return f"localhost:{self.netloc.rsplit(':', 1)[1]}"

    @property
    def prediction_url(self) -> str:
        return f"https://{self.prediction_netloc}{PREDICTION_PATH}"

    @property
    def ca_pem(self) -> bytes:
        if not self._ca_pem:
            raise RuntimeError("the sandbox is not started")
        return self._ca_pem

    @property
    def ca_path(self) -> Path:
        if self._tmpdir is None:
            raise RuntimeError("the sandbox is not started")
        return self._tmpdir / "ca.pem"

    # -- accounts ----------------------------------------------------------------------------

    @property
    def clients(self) -> dict[str, DemoClient]:
        """This sandbox's clients: the demo ones and those added with :meth:`add_client`."""
        with self._lock:
            return dict(self._tokens.clients)

    @property
    def users(self) -> dict[str, DemoUser]:
        """This sandbox's users: the demo ones and those added with :meth:`add_user`."""
        with self._lock:
            return dict(self._tokens.users)

    def add_client(self, client_id: str, secret: str, *, refresh: bool = True) -> DemoClient:
        """Register another client (e.g. with a known canary secret) with this sandbox."""
        client = DemoClient(client_id, secret, refresh)
        with self._lock:
            self._tokens.clients[client_id] = client
        return client

    @property
    def machine_clients(self) -> dict[str, MachineClient]:
        """The Auth0 stand-in's clients: the demo ones and those of :meth:`add_machine_client`."""
        with self._lock:
            return dict(self._machines.clients)

    def add_machine_client(
        self, client_id: str, secret: str, audiences: tuple[str, ...] = (PREDICTION_AUDIENCE,)
    ) -> MachineClient:
        """Register another machine client (e.g. with a canary secret) with the Auth0 stand-in."""
        client = MachineClient(client_id, secret, audiences)
        with self._lock:
            self._machines.clients[client_id] = client
        return client

    def add_user(
        self,
        username: str,
        password: str,
        *,
        fullname: str | None = None,
        userid: int | None = None,
        twofactor: str | None = None,
        locked: bool = False,
    ) -> DemoUser:
        """Add another account (e.g. with a known canary password) to this sandbox."""
        with self._lock:
            user = DemoUser(
                username,
                password,
                fullname or username.title(),
                userid if userid is not None else 2000 + len(self._tokens.users),
                twofactor,
                locked,
            )
            self._tokens.users[username] = user
        return user

    def env(self, client: str = "bp-demo", user: str | None = None) -> dict[str, str]:
        """Environment variables that point bp-helper, requests, curl and git at the sandbox."""
        clients, users = self.clients, self.users
        if client not in clients:
            raise ValueError(f"unknown client {client!r}; known: {', '.join(clients)}")
        ca = str(self.ca_file or self.ca_path)
        env = {
            "BIOPRODICT_TOKEN_URL": self.token_url,
            "BIOPRODICT_CLIENT_ID": client,
            "BIOPRODICT_CLIENT_SECRET": clients[client].secret,
            "REQUESTS_CA_BUNDLE": ca,
            "SSL_CERT_FILE": ca,
            "CURL_CA_BUNDLE": ca,
            "GIT_SSL_CAINFO": ca,
        }
        if user is not None:
            if user not in users:
                raise ValueError(f"unknown user {user!r}; known: {', '.join(users)}")
            env["BIOPRODICT_USERNAME"] = user
            env["BIOPRODICT_PASSWORD"] = users[user].password
        return env

    def machine_env(self, client: str = "bp-predict") -> dict[str, str]:
        """Environment variables for a client-credentials profile of the prediction API."""
        clients = self.machine_clients
        if client not in clients:
            raise ValueError(f"unknown machine client {client!r}; known: {', '.join(clients)}")
        ca = str(self.ca_path)
        return {
            "BIOPRODICT_GRANT": "client_credentials",
            "BIOPRODICT_TOKEN_URL": self.machine_token_url,
            "BIOPRODICT_AUDIENCE": PREDICTION_AUDIENCE,
            "BIOPRODICT_HOSTS": self.prediction_netloc,
            "BIOPRODICT_CLIENT_ID": client,
            "BIOPRODICT_CLIENT_SECRET": clients[client].secret,
            "REQUESTS_CA_BUNDLE": ca,
            "SSL_CERT_FILE": ca,
            "CURL_CA_BUNDLE": ca,
            "GIT_SSL_CAINFO": ca,
        }

    # -- faults and server-side token state --------------------------------------------------

    def inject(self, fault: str, count: int = 1, **params: object) -> None:
        """Queue ``fault`` for the next ``count`` token-endpoint requests (see FAULTS)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(sorted(FAULTS))}")
        allowed = {"hang": {"seconds"}, "expires_in": {"value"}}.get(fault, set())
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise ValueError(f"fault {fault!r} takes no parameter(s) {', '.join(unknown)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        seconds = params.get("seconds", 30.0)
        value = params.get("value", 0)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError("seconds must be a non-negative number")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("value must be an int")
        if fault == "expires_in" and "value" not in params:
            raise ValueError("the expires_in fault needs value=<int>")
        with self._lock:
            self._faults.extend([Fault(fault, float(seconds), value)] * count)

    def clear_faults(self) -> int:
        """Drop the faults still queued (the outage is over); how many there were."""
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
        return count

    def expire_access_tokens(self) -> None:
        self._tokens.expire_access_tokens()
        self._machines.expire_access_tokens()

    def revoke_access_tokens(self) -> None:
        self._tokens.revoke_access_tokens()
        self._machines.revoke_access_tokens()

    def revoke_refresh_tokens(self) -> None:
        self._tokens.revoke_refresh_tokens()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _record(self, token_endpoint: bool, request: RecordedRequest) -> None:
        with self._lock:
            (self._requests if token_endpoint else self._api_requests).append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every token-endpoint request, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def api_requests(self) -> list[RecordedRequest]:
        """A snapshot of every /api/ request, in order."""
        with self._lock:
            return list(self._api_requests)

    def token_requests(self, grant_type: str | None = None) -> list[RecordedRequest]:
        """Token-endpoint requests, all of them or only those with this grant_type."""
        return [r for r in self.requests if grant_type is None or r.grant_type == grant_type]

    def reset_counters(self) -> None:
        """Forget the recorded requests (queued faults and tokens stay)."""
        with self._lock:
            self._requests.clear()
            self._api_requests.clear()

    # -- command line ------------------------------------------------------------------------

    def serve_forever_cli(self, out: TextIO) -> None:
        """Print how to use the sandbox, then serve until Ctrl-C (or stop()), then stop."""
        if self._server is None and not self._used:
            self.start()
        try:
            out.write(self.usage())
            out.flush()
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            out.write("\nStopping the sandbox.\n")
        finally:
            self.stop()

    def usage(self) -> str:
        """The text ``serve_forever_cli`` prints."""
        return usage(self)
