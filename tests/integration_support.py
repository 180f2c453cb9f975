"""Plumbing for the integration tests: a recording loopback server, a spy curl, logins."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from bp_helper.testing.serving import QuickHTTPServer

from . import support
from .support import Home

REAL_CURL = shutil.which("curl")


def login(home: Home, user: str = "alice", *args: str, **env: str) -> str:
    """Log ``user`` in (profile from ``args``/``env``); the stored access token."""
    support.sign_in(home, user, *args, env=env)
    profile = args[args.index("--profile") + 1] if "--profile" in args else "default"
    token: str = home.stored(profile)["access_token"]
    return token


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class Recorder:
    """A plain-HTTP server on 127.0.0.1 that records what arrives; may redirect elsewhere,
    or (``reject_tokens``) answer 401 with a Bearer ``invalid_token`` challenge."""

    def __init__(self, redirect_to: str | None = None, reject_tokens: bool = False) -> None:
        self.redirect_to = redirect_to
        self.reject_tokens = reject_tokens
        self.seen: list[Seen] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                recorder.seen.append(Seen(self.command, self.path, headers, body))
                if recorder.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", recorder.redirect_to + self.path)
                    answer = b""
                elif recorder.reject_tokens:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
                    answer = b""
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    answer = json.dumps({"authorization": headers.get("authorization")}).encode()
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = do_PUT = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = QuickHTTPServer(("127.0.0.1", 0), Handler)
        self.netloc = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.netloc}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def spy_curl(home: Home) -> Iterator[Path]:
    """A `curl` first on PATH that records its argv and environment, then runs the real one.

    Yields the folder of records: one ``N.argv`` and ``N.env`` per call (NUL-separated).
    """
    assert REAL_CURL, "curl is not installed"
    folder = home.root / "spy"
    records = folder / "records"
    records.mkdir(parents=True)
    script = folder / "curl"
    script.write_text(
        "#!/bin/sh\n"
        f'n=$(ls "{records}" | wc -l)\n'
        f'printf "%s\\0" "$@" > "{records}/$n.argv"\n'
        f'env -0 > "{records}/$n.env"\n'
        f'exec "{REAL_CURL}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    old_path = home.env["PATH"]
    home.env["PATH"] = f"{folder}:{old_path}"
    try:
        yield records
    finally:
        home.env["PATH"] = old_path


def spy_calls(records: Path) -> list[tuple[list[str], list[str]]]:
    """(argv, environment entries) of each spied curl call, in order."""
    calls = []
    for argv_file in sorted(records.glob("*.argv"), key=lambda p: int(p.stem)):
        argv = argv_file.read_bytes().decode().split("\0")[:-1]
        env = argv_file.with_suffix(".env").read_bytes().decode().split("\0")[:-1]
        calls.append((argv, env))
    return calls


def run_curl(home: Home, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real curl (as found on the home's PATH), in the home's environment."""
    return subprocess.run(
        ["curl", *args],
        input=input,
        capture_output=True,
        text=True,
        env=home.env,
        timeout=60,
        check=False,
        cwd=home.root,
    )
