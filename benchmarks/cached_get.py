"""Median wall time of a cached credential-helper ``get``, beside ``python -c pass``.

Run by hand from the worktree (nothing here is a test)::

    .venv/bin/python benchmarks/cached_get.py --runs 40

It starts the sandbox, logs alice in once in a throwaway home, then runs each command
``--runs`` times, interleaved so that machine noise hits all of them alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bp_helper.testing import DEMO_USERS, Sandbox

BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    runs = parser.parse_args().runs
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "XDG_STATE_HOME": f"{home}/state",
            "XDG_CONFIG_HOME": f"{home}/config",
            **sandbox.env("bp-demo"),
        }
        subprocess.run(
            [BIN / "bp-helper", "login", "--username", "alice", "--password-stdin"],
            input=DEMO_USERS["alice"].password.encode(),
            env=env,
            check=True,
            capture_output=True,
        )
        git_request = f"protocol=https\nhost={sandbox.netloc}\n\n".encode()
        commands: dict[str, tuple[list[str | Path], bytes]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], b""),
            "git-credential-bioprodict get": (
                [BIN / "git-credential-bioprodict", "get"],
                git_request,
            ),
            "docker-credential-bioprodict get": (
                [BIN / "docker-credential-bioprodict", "get"],
                sandbox.netloc.encode(),
            ),
            "bp-helper token": ([BIN / "bp-helper", "token"], b""),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, (argv, data) in commands.items():
                started = time.perf_counter()
                done = subprocess.run(argv, input=data, env=env, capture_output=True, check=False)
                times[name].append(time.perf_counter() - started)
                if done.returncode != 0 or (name != "python -c pass" and not done.stdout):
                    raise SystemExit(f"{name} failed: {done.stderr.decode()}")
        token_requests = len(sandbox.requests)
    print(f"{runs} runs each, median wall time (Python {sys.version.split()[0]}):")
    base = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:34} {median * 1000:6.1f} ms  (+{(median - base) * 1000:5.1f} ms)")
    print(f"token requests during the runs: {token_requests - 1} (the login was the 1 other)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
