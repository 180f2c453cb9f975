"""Coverage-guided fuzzing with atheris: the git and docker parsers and the config loader."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TARGETS = Path(__file__).parent / "fuzz" / "atheris_targets.py"
RUNS = {"git": 30000, "docker": 30000, "config": 4000}

needs_atheris = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris has wheels for Linux x86-64 only (the test extra installs it there)",
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("unmeasured_programs")]


@needs_atheris
@pytest.mark.parametrize("target", sorted(RUNS))
def test_fuzz_target_finds_no_crash(target: str) -> None:
    runs = RUNS[target]
    done = subprocess.run(
        [sys.executable, str(TARGETS), target, f"-runs={runs}", "-seed=1", "-max_len=4096"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Done {runs} runs" in done.stderr
