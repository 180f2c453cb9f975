"""A loopback HTTP(S) server whose answers a test writes byte by byte: a hostile token server."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import trustme


@dataclass(frozen=True)
class Received:
    """One request the hostile server read: request line, headers (lower-cased) and body."""

    line: str
    headers: dict[str, str]
    body: bytes


Answer = Callable[[Received, socket.socket], None]


def send_json(conn: socket.socket, status: int, body: bytes, *extra: str) -> None:
    head = "".join(f"{h}\r\n" for h in extra)
    conn.sendall(
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{head}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )


class HostileServer:
    """Serves ``answer`` for every request on 127.0.0.1, over TLS (its own CA) or plain http."""

    def __init__(self, answer: Answer, tmp: Path, *, tls: bool = True) -> None:
        self.answer = answer
        self.received: list[Received] = []
        self.connections = 0
        self.stopping = threading.Event()
        self.ca_path = tmp / f"hostile-ca-{id(self)}.pem"
        self._context: ssl.SSLContext | None = None
        if tls:
            ca = trustme.CA()
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(self._context)
            self.ca_path.write_bytes(ca.cert_pem.bytes())
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "/oauth/oauth/token") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        # close() alone does not wake a thread blocked in accept(); shutdown() does.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        conn = raw
        with contextlib.suppress(OSError, ssl.SSLError, ValueError), conn:
            conn.settimeout(30)
            if self._context is not None:
                conn = self._context.wrap_socket(raw, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            received = Received(lines[0], headers, body)
            self.received.append(received)
            self.answer(received, conn)
