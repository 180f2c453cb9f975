"""Small HTTPS sites of the tests' own, for the real clients: a registry, a git server, and a
stand-in Docker Engine API on a unix socket (the one part that cannot run here: no daemon).

Each site checks the token it is given against the sandbox's protected resource, as a real
resource server checks with its token service, and records the Authorization schemes it saw.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme

from bp_helper.testing import Sandbox
from bp_helper.testing.serving import PromptShutdown, QuickHTTPServer

Check = Callable[[str, str], bool]  # (username, token) -> accepted


def sandbox_check(sandbox: Sandbox) -> Check:
    """A token is good if the sandbox's protected resource takes it (and the user is its)."""

    def check(username: str, token: str) -> bool:
        answer = requests.get(
            sandbox.api_url + "check",
            headers={"Authorization": f"Bearer {token}"},
            verify=str(sandbox.ca_path),
            timeout=30,
        )
        return answer.status_code == 200 and username in ("", answer.json()["username"])

    return check


def credentials_of(authorization: str, scheme: str) -> tuple[str, str] | None:
    """(username, token) from ``Basic`` or ``Bearer`` (username "") credentials; else None."""
    kind, _, value = authorization.partition(" ")
    if kind.lower() != scheme.lower() or not value:
        return None
    if scheme.lower() == "bearer":
        return "", value.strip()
    try:
        user, sep, token = base64.b64decode(value, validate=True).decode().partition(":")
    except ValueError:
        return None
    return (user, token) if sep else None


class TlsSite:
    """A ThreadingHTTPServer on 127.0.0.1 with a certificate of the tests' own CA."""

    def __init__(self, folder: Path, handler: type[BaseHTTPRequestHandler]) -> None:
        ca = trustme.CA(organization_name="bp-helper test sites")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.ca_path = folder / "site-ca.pem"
        self.ca_path.write_bytes(ca.cert_pem.bytes())
        self.server = QuickHTTPServer(("127.0.0.1", 0), handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.site = self  # type: ignore[attr-defined]
        self.netloc = f"127.0.0.1:{self.server.server_address[1]}"
        self.schemes: list[str] = []  # the Authorization scheme of each request ("" for none)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def site(self) -> Any:
        return self.server.site  # type: ignore[attr-defined]

    def answer(self, status: int, body: bytes = b"", /, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# -- a registry: /v2/ with a Basic challenge, and one image manifest ----------------------------

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "size": 2,
        },
        "layers": [],
    }
).encode()


class _RegistryHandler(_Quiet):
    def do_GET(self) -> None:
        site: Registry = self.site
        authorization = self.headers.get("Authorization", "")
        site.schemes.append(authorization.partition(" ")[0])
        found = credentials_of(authorization, "Basic")
        api = {"Docker-Distribution-API-Version": "registry/2.0"}
        if found is None or not site.check(*found):
            self.answer(401, WWW_Authenticate='Basic realm="registry"', **api)
        elif "/manifests/" in self.path:
            kind = "application/vnd.oci.image.manifest.v1+json"
            self.answer(200, MANIFEST, Content_Type=kind, **api)
        elif "/blobs/" in self.path:
            self.answer(200, b"{}", Content_Type="application/octet-stream", **api)
        else:
            self.answer(200, b"{}", Content_Type="application/json", **api)

    do_HEAD = do_GET


class Registry(TlsSite):
    """A registry that takes the token only as the Basic password (as registries do)."""

    def __init__(self, folder: Path, check: Check) -> None:
        self.check = check
        super().__init__(folder, _RegistryHandler)


# -- a git server: `git http-backend` behind a scheme-checking HTTPS front ----------------------


class _GitHandler(_Quiet):
    def do_GET(self) -> None:
        site: GitSite = self.site
        authorization = self.headers.get("Authorization", "")
        site.schemes.append(authorization.partition(" ")[0])
        found = credentials_of(authorization, site.scheme)
        if found is None or not site.check(*found):
            challenge = f'{site.scheme} realm="git"'
            self.answer(401, b"authentication required\n", WWW_Authenticate=challenge)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GIT_PROJECT_ROOT": str(site.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": found[0] or "bearer",
            "REMOTE_ADDR": "127.0.0.1",
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        done = subprocess.run(
            [site.git, "http-backend"], input=body, env=env, capture_output=True, timeout=60
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, {}
        for line in head.decode().splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers[name.strip().replace("-", "_")] = value.strip()
        self.answer(status, payload, **headers)

    do_POST = do_GET


class GitSite(TlsSite):
    """Serves ``root``'s repositories over smart HTTP to ``scheme`` ("Basic" or "Bearer") only."""

    def __init__(self, folder: Path, git: str, scheme: str, check: Check) -> None:
        self.git, self.scheme, self.check = git, scheme, check
        self.root = folder / f"repos-{scheme.lower()}"
        self.root.mkdir()
        run = {"check": True, "capture_output": True, "timeout": 60}
        work = folder / f"work-{scheme.lower()}"
        subprocess.run([git, "init", "-q", "-b", "main", str(work)], **run)  # type: ignore[call-overload]
        (work / "README").write_text("hello\n")
        ident = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
        subprocess.run([git, "-C", str(work), "add", "README"], **run)  # type: ignore[call-overload]
        subprocess.run([git, "-C", str(work), *ident, "commit", "-qm", "one"], **run)  # type: ignore[call-overload]
        bare = self.root / "team.git"
        subprocess.run([git, "clone", "-q", "--bare", str(work), str(bare)], **run)  # type: ignore[call-overload]
        super().__init__(folder, _GitHandler)


# -- a Docker Engine API stand-in on a unix socket ---------------------------------------------


class _EngineHandler(_Quiet):
    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        engine: DockerEngine = self.site
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        engine.calls.append(f"{self.command} {self.path}")
        version = {"Api_Version": "1.45"}
        if self.path.endswith("/auth") and self.command == "POST":
            # The daemon checks the credentials with the registry, as dockerd does.
            auth = json.loads(body)
            basic = base64.b64encode(f"{auth['username']}:{auth['password']}".encode()).decode()
            answer = requests.get(
                f"https://{auth['serveraddress']}/v2/",
                headers={"Authorization": f"Basic {basic}"},
                verify=str(engine.registry_ca),
                timeout=30,
            )
            if answer.status_code == 200:
                self.answer(200, b'{"Status":"Login Succeeded"}', Content_Type="application/json",
                            **version)  # fmt: skip
            else:
                message = json.dumps({"message": "unauthorized: bad credentials"}).encode()
                self.answer(401, message, Content_Type="application/json", **version)
        elif self.path.endswith("/_ping"):
            self.answer(200, b"OK", **version)
        else:
            self.answer(404, b'{"message":"not here"}', Content_Type="application/json", **version)

    do_POST = do_HEAD = do_GET


class _UnixServer(PromptShutdown, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class DockerEngine:
    """Answers what the docker CLI asks a daemon during `docker login`: ping, then auth."""

    def __init__(self, folder: Path, registry_ca: Path) -> None:
        self.registry_ca = registry_ca
        self.socket = folder / "docker.sock"
        self.calls: list[str] = []
        self.server = _UnixServer(str(self.socket), _EngineHandler)
        self.server.site = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- finding the programs ---------------------------------------------------------------------


def program(
    name: str,
    why: str,
    env_var: str | None = None,
    known: str | None = None,
    at_least: tuple[int, ...] = (),
) -> str:
    """The program's path (``env_var``, else ``known``, else PATH), of ``at_least`` that
    version; a skip with the reason, or under CI=true a failure, when there is none."""
    for candidate in (os.environ.get(env_var or ""), known, shutil.which(name)):
        usable = candidate and os.access(candidate, os.X_OK)
        if candidate and usable and (not at_least or version_of(candidate) >= at_least):
            return candidate
    wanted = f" {'.'.join(map(str, at_least))} or newer" if at_least else ""
    where = f" (set {env_var} to one)" if env_var else ""
    message = f"no {name}{wanted} is installed{where}: {why}; .ci/install-clients.sh installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def version_of(path: str) -> tuple[int, ...]:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    numbers = out.split()[2].split(".")[:2]
    return tuple(int(n) for n in numbers)
