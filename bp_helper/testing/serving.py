"""Servers that stop at once: :class:`PromptShutdown` for any ``socketserver`` server, and
:class:`QuickHTTPServer`, a ``ThreadingHTTPServer`` with it."""

from __future__ import annotations

import contextlib
import selectors
import socket
import socketserver
import threading
from http.server import ThreadingHTTPServer
from typing import Any

__all__ = ["PromptShutdown", "QuickHTTPServer"]


class PromptShutdown(socketserver.TCPServer):
    """A mixin for a TCP or Unix stream server (put it first): :meth:`shutdown` wakes
    :meth:`serve_forever` at once, with a byte on a socket pair, where the stdlib's loop
    notices only at its next poll (every 0.5 s by default). A test's server stops in a
    millisecond."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._stop_request = threading.Event()
        self._stopped = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            self._close_wake()
            raise

    def serve_forever(self, poll_interval: float | None = 0.5) -> None:
        """Handle requests until :meth:`shutdown` (``poll_interval``: how often
        ``service_actions`` runs when nothing happens; ``None``: only when something does)."""
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.fileno(), selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not self._stop_request.is_set():
                    ready = selector.select(poll_interval)
                    if self._stop_request.is_set():
                        break
                    if any(key.fd == self.fileno() for key, _ in ready):
                        self._handle_request_noblock()  # type: ignore[attr-defined]
                    self.service_actions()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait until it has returned (call it from another
        thread, once :meth:`serve_forever` has been started, as the stdlib's)."""
        self._stop_request.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._close_wake()

    def _close_wake(self) -> None:
        self._wake_reader.close()
        self._wake_writer.close()


class QuickHTTPServer(PromptShutdown, ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that stops at once (see :class:`PromptShutdown`)."""
