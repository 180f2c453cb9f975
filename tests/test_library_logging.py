"""Used as a library, bp-helper's debug lines and warnings reach ``logging`` (logger
``bp_helper``), redacted as on stderr; the executables import no ``logging``."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import bp_helper
from bp_helper import log
from bp_helper.library.logger import use_logging
from bp_helper.testing import Sandbox

from .leak_support import (
    ACCESS_PREFIX,
    CLIENT_ID,
    NEVER,
    PASSWORD,
    USERNAME,
    canary_sandbox,
)
from .protocol_support import GIT, run_bytes
from .support import Home, expire_stored_token, imported_modules, in_process_env


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The canary sandbox (replaces conftest's): every token it issues is recognisable."""
    server = canary_sandbox()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def as_user(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """This process runs as the canary user, with the password in its environment."""
    home = Home.make(tmp_path / "home", sandbox.env(CLIENT_ID, USERNAME))
    in_process_env(home, monkeypatch)
    return home


def test_bioprodict_auth_debug_lines_reach_logging_redacted(
    sandbox: Sandbox, as_user: Home, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bp_helper")
    auth = bp_helper.BioProdictAuth()
    url = sandbox.api_url + "lib"
    assert requests.get(url, auth=auth, timeout=30).status_code == 200  # a password login
    expire_stored_token(as_user)
    assert requests.get(url, auth=auth, timeout=30).status_code == 200  # a refresh
    stored = as_user.stored()
    log.debug(f"a line that names the token {stored['access_token']} by mistake")
    records = [r for r in caplog.records if r.name == "bp_helper"]
    messages = [r.getMessage() for r in records]
    assert any("stored tokens of profile 'default'" in m for m in messages), messages
    assert any("by mistake" in m and log.REDACTED in m for m in messages), messages
    shown = "\n".join([*messages, *(str(r.msg) for r in records), *(repr(r.args) for r in records)])
    canaries = {
        ACCESS_PREFIX[:12],
        stored["access_token"],
        stored["refresh_token"],
        PASSWORD,
        *(form for forms in NEVER.values() for form in forms),
    }
    leaked = sorted(c for c in canaries if c and c in shown)
    assert not leaked, leaked


def test_warnings_reach_logging_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bp_helper")
    use_logging()
    log.warn("a warning for the library's user eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    log.warn("a warning for the library's user eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    [record] = [r for r in caplog.records if r.name == "bp_helper"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"a warning for the library's user {log.REDACTED}"


def test_without_handlers_nothing_reaches_stderr_twice() -> None:
    """A program with ``logging`` loaded but not configured sees each warning once (ours)."""
    code = (
        "from bp_helper import log\nfrom bp_helper.library.logger import use_logging\n"
        "use_logging()\nlog.warn('once')\nlog.debug('not shown')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == "bp-helper: warning: once\n"


def test_the_executables_import_no_logging(sandbox: Sandbox, tmp_path: Path) -> None:
    """Neither a cached answer nor a full-path command that sends no request loads
    ``logging`` (only the library's use_logging and the keyring extra do)."""
    home = Home.make(tmp_path / "home", sandbox.env(CLIENT_ID, USERNAME))
    login_done = home.bp("login", "--password-stdin", input=PASSWORD)
    assert login_done.returncode == 0, login_done.stderr
    request = f"protocol=https\nhost={sandbox.netloc}\n\n".encode()
    profiled = {"PYTHONPROFILEIMPORTTIME": "1"}
    git = run_bytes(home, GIT, ["get"], request, profiled)
    token = home.bp("token", env=profiled)
    assert b"password=" in git.stdout and token.stdout.strip()
    unbound = run_bytes(home, GIT, ["get"], b"protocol=https\nhost=example.org\n\n", profiled)
    status = home.bp("status", env=profiled)
    assert unbound.returncode == 0 and unbound.stdout == b"" and status.returncode == 0
    reports = {
        "cached get": git.stderr.decode(),
        "cached token": token.stderr,
        "full-path get": unbound.stderr.decode(),
        "status": status.stderr,
    }
    for name, report in reports.items():
        modules = imported_modules(report)
        assert "bp_helper" in modules, name  # the report is real
        assert "logging" not in modules, name
    assert "bp_helper.protocols.git" in imported_modules(reports["full-path get"])
