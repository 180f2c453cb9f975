"""Shared test plumbing: run the installed executables in an isolated home."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from bp_helper.tokens import StoredToken

BIN = Path(sys.executable).parent
TEST_KEYRINGS = Path(__file__).parent / "keyring_backends"
# COVERAGE_PROCESS_CONFIG: under `pytest --cov` the programs the tests start are measured too.
# BP_HELPER_FULL_PATH: the helper_path fixture's "full" runs (see bp_helper.quick).
PASSTHROUGH = (
    "PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "COVERAGE_PROCESS_CONFIG",
    "BP_HELPER_FULL_PATH",
)  # fmt: skip
# What the cached path (`bp-helper token`, the helpers' `get`) never imports.
HEAVY = ("requests", "oauthlib", "requests_oauthlib", "keyring", "urllib3")
# For a program whose own imports or writes a test inspects: coverage stays out of it.
UNMEASURED = {"COVERAGE_PROCESS_CONFIG": ""}
# The keyring a Home selects: none works, as on a machine without one.
NO_KEYRING = "keyring.backends.fail.Keyring"


def executable(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed next to {sys.executable}"
    return str(path)


@dataclass
class Home:
    """A throwaway HOME with its own config and state folders, and an environment for it."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(cls, root: Path, extra: Mapping[str, str] | None = None) -> Home:
        root.mkdir(parents=True, exist_ok=True)
        env = {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}
        env.update(
            HOME=str(root),
            XDG_CONFIG_HOME=str(root / "config"),
            XDG_STATE_HOME=str(root / "state"),
            XDG_DATA_HOME=str(root / "data"),
            XDG_CACHE_HOME=str(root / "cache"),
            PYTHONDONTWRITEBYTECODE="1",
            # Never the real user's keyring: tests that use one choose it explicitly.
            PYTHON_KEYRING_BACKEND=NO_KEYRING,
        )
        env.update(extra or {})
        return cls(root, env)

    @property
    def store_dir(self) -> Path:
        return self.root / "state" / "bp-helper" / "tokens"

    def store_file(self, profile: str = "default") -> Path:
        return self.store_dir / f"{profile}.json"

    def stored(self, profile: str = "default") -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.store_file(profile).read_text())
        return data

    def use_keyring(self, backend: str, **settings: str) -> None:
        """Select a keyring backend by keyring's own env variable (test backends findable)."""
        self.env["PYTHON_KEYRING_BACKEND"] = backend
        self.env["PYTHONPATH"] = str(TEST_KEYRINGS)
        self.env.update(settings)

    def keyring_get(self, service: str, username: str) -> str | None:
        """What the selected keyring holds, read by the keyring library in a subprocess."""
        done = subprocess.run(
            [sys.executable, "-c", KEYRING_GET, service, username],
            capture_output=True,
            text=True,
            env={**self.env, **UNMEASURED},  # the keyring library alone: no bp-helper code
            timeout=60,
            check=True,
        )
        found: str | None = json.loads(done.stdout)
        return found

    def keyring_set(self, service: str, username: str, value: str) -> None:
        subprocess.run(
            [sys.executable, "-c", KEYRING_SET, service, username],
            input=value,
            text=True,
            env={**self.env, **UNMEASURED},
            timeout=60,
            check=True,
        )

    def write_config(self, text: str) -> Path:
        path = self.root / "config" / "bp-helper" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def run(
        self,
        args: Sequence[str],
        *,
        input: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        program: str = "bp-helper",
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run an installed executable with no controlling terminal."""
        return subprocess.run(
            [executable(program), *args],
            input=input.decode() if isinstance(input, bytes) else input,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
            start_new_session=True,  # no controlling terminal: /dev/tty cannot be opened
            check=False,
            cwd=self.root,
        )

    def bp(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run(args, **kwargs)


KEYRING_GET = (
    "import json, sys, keyring; print(json.dumps(keyring.get_password(sys.argv[1], sys.argv[2])))"
)
KEYRING_SET = "import sys, keyring; keyring.set_password(*sys.argv[1:3], sys.stdin.read())"


def expire_stored_token(
    home: Home, profile: str = "default", *, drop_refresh_token: bool = False
) -> StoredToken:
    """Make the profile's stored access token stale, as if its lifetime had passed, without
    waiting: the next `get` refreshes it (or, with ``drop_refresh_token``, logs in again).
    Everything else in the store is kept. Returns the stored record as it was before."""
    from bp_helper.tokens import StoredToken

    path = home.store_file(profile)
    before = StoredToken.from_json(path.read_bytes())
    stale = before._replace(expires_at=1.0, obtained_at=0.0)
    if drop_refresh_token:
        stale = stale.without_refresh_token()
    path.write_bytes(stale.to_json())
    return before


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """Assert that a failed run printed exactly one line on stderr, no traceback; return it."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {done.stderr!r}"
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("bp-helper: "), lines[0]
    return lines[0]


def spawn_with_terminal(
    home: Home,
    args: Sequence[str],
    program: str = "bp-helper",
    env: Mapping[str, str] | None = None,
    terminal_stdin: bool = False,
) -> tuple[subprocess.Popen[bytes], int]:
    """Run a program with a pseudo-terminal as its controlling terminal and stdio as pipes.

    Returns the process and the terminal's master side (no echo), which the caller closes.
    With ``terminal_stdin`` the terminal is the program's standard input too, and echoes as a
    terminal does, so that a test sees whether the program turned the echo off itself.
    """
    master, slave = os.openpty()
    if not terminal_stdin:
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)

    def make_controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    path = str(BIN / program) if (BIN / program).exists() else program
    proc = subprocess.Popen(
        [path, *args],
        stdin=slave if terminal_stdin else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**home.env, **(env or {})},
        cwd=home.root,
        preexec_fn=make_controlling_terminal,
        pass_fds=(slave,),
    )
    os.close(slave)
    return proc, master


def run_together(home: Home, commands: Sequence[Sequence[str]]) -> None:
    """Start every ``bp-helper`` command at once (a race), then check that each succeeded.

    They run unmeasured under ``--cov``, as the bursts do: what each of them runs, one
    command at a time, the fast tier measures."""
    procs = [
        subprocess.Popen(
            [executable("bp-helper"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**home.env, **UNMEASURED},
        )
        for args in commands
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


def read_until(master: int, text: bytes, timeout: float = 20) -> bytes:
    """What the terminal shows up to and including ``text``; fails if it never does."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {text!r} on the terminal; saw {seen!r}"
        seen += os.read(master, 1024)
    return seen


def login(
    home: Home, user: str = "alice", *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`bp-helper login` as a demo user (password on stdin; ``args`` go after `login`)."""
    from bp_helper.testing import DEMO_USERS

    done = home.bp(
        "login",
        "--username",
        user,
        "--password-stdin",
        *args,
        input=DEMO_USERS[user].password,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done


def sign_in(
    home: Home, user: str = "alice", *args: str, env: Mapping[str, str] | None = None
) -> None:
    """A logged-in profile, for a test about something else: what :func:`login` leaves behind,
    without starting a program (0.15 s of CPU each, twice that under coverage).

    `bp-helper login`'s own function (``cmd_login``: the password grant against the sandbox,
    the store's write, the switch of a configured username) runs in this process, as
    :func:`in_process_command` says. Tests of `login` itself or of what it prints use
    :func:`login`; so does this, for a home that selects another keyring.
    """
    from bp_helper.testing import DEMO_USERS

    argv = ["login", "--username", user, "--password-stdin", *args]
    if not in_process_command(home, argv, DEMO_USERS[user].password, env):
        login(home, user, *args, env=env)


def sign_out(home: Home, *args: str, env: Mapping[str, str] | None = None) -> None:
    """A logged-out profile, for a test about something else: `bp-helper logout` (``args``
    after it), in this process as :func:`in_process_command` says, or as a program for a home
    that selects another keyring."""
    if not in_process_command(home, ["logout", *args], "", env):
        done = home.bp("logout", *args, env=env)
        assert done.returncode == 0, done.stderr


def in_process_command(
    home: Home, argv: Sequence[str], stdin: str, env: Mapping[str, str] | None = None
) -> bool:
    """Run the `bp-helper` command ``argv`` (its name first) in this process, as the program
    would run it with ``stdin`` and no terminal: its own function, under the home's
    environment and folder, with the keyring the home selects (none works). Asserts that it
    succeeded; what it prints is not kept. False (nothing run) if the home selects another
    keyring: the keyring library chooses its backend once per process."""
    environ = {**home.env, **(env or {})}
    if environ.get("PYTHON_KEYRING_BACKEND") != NO_KEYRING or "PYTHONPATH" in environ:
        return False
    import importlib

    from bp_helper import log
    from bp_helper.commands.cli import HANDLERS, SETTING_FLAGS, build_parser
    from bp_helper.config.settings import Settings
    from bp_helper.errors import BpError
    from bp_helper.secrets import oskeyring

    parsed = build_parser(argv[0]).parse_args(list(argv))
    module, _, function = HANDLERS[argv[0]].partition(":")
    handler = getattr(importlib.import_module(module), function)
    out = io.StringIO()
    # Nobody to ask, as for a program without a terminal; the log's secrets and warnings,
    # which a program forgets when it ends, as they were.
    environ.setdefault("BIOPRODICT_NONINTERACTIVE", "1")
    kept = (set(log._secrets), set(log._warned))
    with (
        _environment(environ),
        contextlib.chdir(home.root),
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        patch.setattr(oskeyring, "_backend", _no_keyring)
        try:
            flags = {name: getattr(parsed, name, None) for name in SETTING_FLAGS}
            status = handler(parsed, Settings(flags))
        except BpError as exc:
            said = out.getvalue()
            raise AssertionError(f"{argv[0]} failed: {exc.message}; it said: {said}") from exc
        finally:
            log._secrets.clear()
            log._secrets.update(kept[0])
            log._warned.clear()
            log._warned.update(kept[1])
    assert status == 0, out.getvalue()
    return True


def _no_keyring() -> Any:
    """The backend that PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring selects."""
    from keyring.core import load_keyring

    return load_keyring(NO_KEYRING)


@contextlib.contextmanager
def _environment(environ: Mapping[str, str]) -> Iterator[None]:
    """This process's environment is ``environ`` alone, as a program's would be."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def in_process_env(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process (BioProdictAuth, HttpxAuth, the Python API) runs with the home's
    environment in place of any ``BIOPRODICT_*`` of its own, and never prompts."""
    for name in list(os.environ):
        if name.startswith("BIOPRODICT_"):
            monkeypatch.delenv(name)
    for name, value in {**home.env, "BIOPRODICT_NONINTERACTIVE": "1"}.items():
        monkeypatch.setenv(name, value)


def imported_modules(report: str) -> set[str]:
    """Every module a `-X importtime` report on stderr names (a package is named before its
    submodules, so ``"requests" in imported_modules(report)`` asks whether it was imported)."""
    names = set()
    for line in report.splitlines():
        match = re.match(r"import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S.*)$", line)
        if match:
            names.add(match.group(1).strip())
    return names
