"""Plumbing for the credential-helper tests: raw-byte runs, real git, logins, refusals."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping

import requests

from bp_helper.testing import Sandbox

from .support import BIN, Home, executable

GIT = "git-credential-bioprodict"
DOCKER = "docker-credential-bioprodict"


def path_with_helpers() -> str:
    """PATH with this venv's bin first, so that git and docker-py find the helpers."""
    return f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def run_bytes(
    home: Home,
    program: str,
    args: list[str],
    data: bytes = b"",
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run an installed helper with raw bytes on stdin and no controlling terminal."""
    return subprocess.run(
        [executable(program), *args],
        input=data,
        capture_output=True,
        env={**home.env, **(env or {})},
        timeout=60,
        start_new_session=True,
        check=False,
        cwd=home.root,
    )


def git_request(
    sandbox: Sandbox, *extra: str, protocol: str = "https", host: str | None = None
) -> bytes:
    """What git asks a helper: the sandbox's host unless ``host`` names another."""
    lines = [f"protocol={protocol}", f"host={host or sandbox.netloc}", *extra]
    return ("\n".join(lines) + "\n\n").encode()


def use_git(home: Home) -> None:
    """A throwaway git config in the home: our helper for every host, no host paths."""
    (home.root / ".gitconfig").write_text(
        "[credential]\n\thelper = bioprodict\n\tuseHttpPath = false\n"
    )
    home.env.update(
        PATH=path_with_helpers(),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
    )


def git(
    home: Home, *args: str, input: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        input=input,
        capture_output=True,
        text=True,
        env={**home.env, **(env or {})},
        timeout=60,
        start_new_session=True,
        check=False,
        cwd=home.root,
    )


def git_version() -> tuple[int, ...]:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)\.(\d+)", out)
    assert match, out
    return tuple(int(part) for part in match.groups())


def attributes(text: str | bytes) -> dict[str, str]:
    """git's key=value lines as a dict (the last of repeated keys wins)."""
    if isinstance(text, bytes):
        text = text.decode()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def call_api(sandbox: Sandbox, authorization: str, url: str | None = None) -> requests.Response:
    """GET the sandbox API (or ``url``) with this ``Authorization``, trusting the sandbox CA."""
    return requests.get(
        url or sandbox.api_url + "repo.git",
        headers={"Authorization": authorization},
        verify=str(sandbox.ca_path),
        timeout=10,
    )


def assert_refused(done: subprocess.CompletedProcess[bytes]) -> str:
    """Nothing answered, one line on stderr, no traceback; the line."""
    assert done.stdout == b"", done.stdout[:200]
    assert done.returncode != 0
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    assert len(lines) == 1, done.stderr[:500]
    assert lines[0].startswith("bp-helper: request refused: "), lines[0]
    assert b"Traceback" not in done.stderr
    return lines[0]
