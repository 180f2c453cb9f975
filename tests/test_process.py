"""The process itself (bp_helper/process.py): no core files while secrets are in memory."""

from __future__ import annotations

import resource
import subprocess
import time
from pathlib import Path

import pytest

from .support import (
    Home,
    executable,
)


@pytest.mark.parametrize(
    "program", ["bp-helper", "git-credential-bioprodict", "docker-credential-bioprodict"]
)
def test_no_core_files_while_secrets_are_in_memory(home: Home, program: str) -> None:
    # The program starts with core files allowed, then waits for input (a request on stdin,
    # or the password): meanwhile, read its limits.
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    if hard == 0:
        pytest.skip("core files are disabled here (hard limit 0): nothing to check")
    allowed = 1 << 20 if hard == resource.RLIM_INFINITY else hard

    def allow_core_files() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (allowed, hard))

    proc = subprocess.Popen(
        [executable(program), "get" if program != "bp-helper" else "login"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**home.env, "BIOPRODICT_USERNAME": "alice"} if program == "bp-helper" else home.env,
        start_new_session=True,
        preexec_fn=allow_core_files,
    )
    try:
        limits = ""
        for _ in range(600):
            limits = Path(f"/proc/{proc.pid}/limits").read_text()
            core = next(line for line in limits.splitlines() if line.startswith("Max core"))
            if core.split()[4:6] == ["0", "0"]:
                break
            time.sleep(0.05)  # not a timing assertion: waiting for the program to start
        assert core.split()[4:6] == ["0", "0"], limits
    finally:
        proc.kill()
        proc.communicate()
