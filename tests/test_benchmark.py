"""The benchmark runs (quick mode) and its counts hold; its seconds are reported, not judged."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# The benchmark times its programs: coverage in each would be timed too (and double its cost).
pytestmark = [pytest.mark.bench, pytest.mark.usefixtures("unmeasured_programs")]

BENCH = Path(__file__).parent.parent / "benchmarks" / "bench.py"


def test_benchmark_quick_mode_runs_and_counts_requests(tmp_path: Path) -> None:
    # nothing may come from a package index: pip, if the benchmark ran it, would find nothing
    offline = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    offline.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull)
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
        env=offline,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = dict(
        (name.strip(), value.strip())
        for name, value in (
            re.match(r"(.{58}) (.*)", line).groups()  # type: ignore[union-attr]
            for line in done.stdout.splitlines()[1:]
        )
    )
    for name in (
        "bp-helper token, cached",
        "git-credential-bioprodict get, cached",
        "docker-credential-bioprodict get, cached",
        "http --offline, bp-helper plugin installed",
        "git get, cached, config file of 3 profiles",
        "git get, cached, config file of 101 profiles",
        "32 threads on an expired token",
    ):
        assert re.match(r"\d+\.\d ms", rows[name]), (name, rows[name])
    assert rows["token requests during the cached runs"] == "0"
    assert rows["token requests during the desktop runs"] == "0"
    assert rows["32 threads on an expired token"].endswith("1 token request(s)")
    assert rows["32 bp-helper token processes, expired"].endswith("1 token request(s)")
