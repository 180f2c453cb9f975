"""The sandbox's HTTP plumbing: TLS in the handler thread, request dispatch, faults, records."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from bp_helper.testing.auth0 import AUTH0_TOKEN_PATH, PREDICTION_PATH, parse_body
from bp_helper.testing.issuer import TOKEN_PATH
from bp_helper.testing.replies import (
    Reply,
    html_reply,
    json_reply,
    oauth_error,
    parse_basic,
    spring_error,
)
from bp_helper.testing.serving import PromptShutdown

if TYPE_CHECKING:  # the server imports this module
    from bp_helper.testing.server import Sandbox

__all__ = ["FAULTS", "Fault", "RecordedRequest", "SandboxServer", "fault_reply"]

FAULTS = frozenset(
    {
        "http500",
        "http502html",
        "http503",
        "reset",
        "hang",
        "nonjson200",
        "no_access_token",
        "expires_in",
        "html200",
    }
)
_MAX_BODY = 1 << 20
_Request = socket.socket | tuple[bytes, socket.socket]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the sandbox received. ``status`` is 0 when it sent no HTTP answer."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    raw_body: bytes
    form: dict[str, list[str]]
    grant_type: str | None
    basic_client_id: str | None
    status: int


@dataclass(frozen=True)
class Fault:
    name: str
    seconds: float = 30.0
    value: int = 0


def _page(code: int, title: str, text: str) -> str:
    return (
        f"<html><head><title>{code} {title}</title></head><body>"
        f"<center><h1>{code} {title}</h1></center><p>{text}</p><hr><center>nginx</center>"
        "</body></html>\n"
    )


_LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Bio-Prodict Accounts - Sign in</title></head><body>"
    '<form method="post" action="/login"><input name="username"><input name="password" '
    'type="password"><button>Sign in</button></form></body></html>\n'
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bp-helper-sandbox"
    sys_version = ""
    timeout = 30.0
    server: SandboxServer

    def setup(self) -> None:
        assert isinstance(self.request, ssl.SSLSocket)
        self.request.settimeout(self.timeout)
        self.request.do_handshake()  # here, not in accept(): a stuck client blocks one thread
        super().setup()

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is None:
            timestamp = time.time() + self.server.sandbox.clock_offset
        return super().date_time_string(timestamp)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self._dispatch()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_POST

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        path = urlsplit(self.path).path
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else str(value)
        is_token = path in (TOKEN_PATH, AUTH0_TOKEN_PATH)
        if is_token and sandbox.delay > 0:
            sandbox._stopping.wait(sandbox.delay)
        fault = sandbox._next_fault() if is_token else None
        body = self._read_body()
        if body is None:
            reply = oauth_error(400, "invalid_request", "sandbox: unreadable or oversized body")
        elif fault is not None and fault.name in ("reset", "hang"):
            sandbox._record(is_token, self._recorded(headers, body, 0))
            if fault.name == "reset":
                self._reset()
            else:
                sandbox._stopping.wait(fault.seconds)
                self.close_connection = True
            return
        elif fault is not None:
            reply = fault_reply(sandbox, fault, headers, body)
        elif is_token and self.command != "POST":
            reply = json_reply(
                405,
                {
                    "error": "method_not_allowed",
                    "error_description": f"Request method '{self.command}' not supported",
                },
                (("Allow", "POST"),),
            )
        elif path == AUTH0_TOKEN_PATH:
            reply = sandbox._machines.token_endpoint(headers, body, sandbox.machine_token_lifetime)
        elif is_token:
            reply = sandbox._tokens.token_endpoint(headers, body, sandbox.token_lifetime)
        elif path.startswith("/api/"):
            reply = sandbox._tokens.protected_resource(
                self.command, self.path, headers.get("authorization"), sandbox.accept_basic_token
            )
        elif path.startswith(PREDICTION_PATH):
            authorization = headers.get("authorization")
            reply = sandbox._machines.prediction_resource(self.command, self.path, authorization)
        else:
            reply = spring_error(404, "Not Found", "No message available", path)
        if is_token or path.startswith(("/api/", PREDICTION_PATH)):
            sandbox._record(is_token, self._recorded(headers, body or b"", reply.status))
        self._send(reply)

    def _recorded(self, headers: dict[str, str], body: bytes, status: int) -> RecordedRequest:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        if headers.get("content-type", "").lower().startswith("application/json"):
            fields = parse_body("application/json", body)  # the Auth0 endpoint takes JSON too
            form = {k: [v] for k, v in fields.items()} if isinstance(fields, dict) else {}
        creds = parse_basic(headers.get("authorization"))
        return RecordedRequest(
            method=self.command,
            path=self.path,
            headers=headers,
            raw_body=body,
            form=form,
            grant_type=form.get("grant_type", [None])[0],
            basic_client_id=creds[0] if creds else None,
            status=status,
        )

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if not 0 <= length <= _MAX_BODY:
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if size < 0 or total > _MAX_BODY:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        self.close_connection = True

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), no TLS close_notify."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drop makefile's reference so close() really closes the fd
        self.connection.close()
        self.close_connection = True


class SandboxServer(PromptShutdown, ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() joins the handler threads itself, with a deadline

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, context: ssl.SSLContext) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sandbox = sandbox
        self.context = context
        self.connections: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        self.track_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's getfqdn() (a DNS lookup)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        conn = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.track_lock:
            self.connections.add(conn)
        return conn, address

    def process_request_thread(self, request: _Request, client_address: Any) -> None:
        with self.track_lock:
            self.handler_threads.add(threading.current_thread())
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.track_lock:
                self.handler_threads.discard(threading.current_thread())

    def close_request(self, request: _Request) -> None:
        with self.track_lock:
            self.connections.discard(request)
        super().close_request(request)

    def handle_error(self, request: _Request, client_address: Any) -> None:
        pass  # failed handshakes, resets and timeouts are routine here: no tracebacks

    def abort(self, deadline: float) -> None:
        """Unblock every handler (shut its socket down) and wait for them until deadline."""
        with self.track_lock:
            connections = list(self.connections)
            threads = list(self.handler_threads)
        for conn in connections:
            # the plain socket's shutdown: SSLSocket.shutdown would drop its TLS state first
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def fault_reply(sandbox: Sandbox, fault: Fault, headers: dict[str, str], body: bytes) -> Reply:
    """The answer of an HTTP-level fault (every fault but reset and hang)."""
    if fault.name == "http500":
        message = "sandbox: injected internal server error"
        return spring_error(500, "Internal Server Error", message, TOKEN_PATH)
    if fault.name == "http502html":
        return html_reply(502, _page(502, "Bad Gateway", "The upstream server failed."))
    if fault.name == "http503":
        return html_reply(503, _page(503, "Service Temporarily Unavailable", "Try later."))
    if fault.name == "nonjson200":
        return Reply(200, (("Content-Type", "text/plain;charset=UTF-8"),), b"OK")
    if fault.name == "html200":
        return html_reply(200, _LOGIN_PAGE)
    if fault.name == "no_access_token":
        answer = {
            "token_type": "bearer",
            "expires_in": sandbox.token_lifetime - 1,
            "scope": "read write",
            "jti": str(uuid.uuid4()),
        }
        return json_reply(200, answer, (("Cache-Control", "no-store"),))
    # "expires_in": normal processing with a forged expires_in
    if b"client_credentials" in body:
        lifetime = sandbox.machine_token_lifetime
        return sandbox._machines.token_endpoint(headers, body, lifetime, fault.value)
    return sandbox._tokens.token_endpoint(headers, body, sandbox.token_lifetime, fault.value)
