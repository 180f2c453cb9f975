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
    # the benchmark installs the checkout with pip: nothing may come from a package index
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
    assert "a regular install of the checkout" in done.stdout.splitlines()[0]
    rows = dict(
        (name.strip(), value.strip())
        for name, value in (
            re.match(r"(.{58}) (.*)", line).groups()  # type: ignore[union-attr]
            for line in done.stdout.splitlines()[1:]
        )
    )
    for name in (
        "python -c pass (same venv)",
        "python -S -c pass (same venv)",
        "bp-helper token, cached",
        "git-credential-bioprodict get, cached",
        "docker-credential-bioprodict get, cached",
        "git get, cached, config file of 3 profiles",
        "git get, cached, config file of 101 profiles",
        "http --offline, bp-helper plugin installed",
        "one bp-helper token process on an expired token",
        "32 threads on an expired token",
        "16 bp-helper token processes, expired",
        "16 processes, expired: CPU per waiting process",
    ):
        assert re.match(r"\d+\.\d ms", rows[name]), (name, rows[name])
    for name in (
        "requests + BioProdictAuth, cached token",
        "requests + a new BioProdictAuth() each",
        "httpx + HttpxAuth, cached token",
        "httpx async + HttpxAuth, cached token",
    ):
        assert re.match(r"\d+\.\d us +[-+]\d+\.\d us over the static header", rows[name])
    assert re.fullmatch(
        r"(no|yes, .+); \d+ modules imported .*", rows["a cached git get imports re"]
    )
    assert re.fullmatch(
        r"\d+ \(target 0\)", rows["worker threads in 20 cached async HttpxAuth requests"]
    )
    # the cached answers never ask the server; every burst on an expired token asks once
    assert rows["token requests during the cached runs"] == "0"
    assert rows["token requests during the in-process runs"] == "0"
    assert rows["32 threads on an expired token"].endswith(", 1 token request(s)")
    assert rows["16 bp-helper token processes, expired"].endswith(", 1/1/1 token request(s)")
    assert re.search(
        r"\d\.\d\dx the cached burst's", rows["16 processes, expired: CPU per waiting process"]
    )
