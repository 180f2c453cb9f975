"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bp_helper.testing import Sandbox

from .support import Home


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox token server (fresh per test), stopped afterwards."""
    with Sandbox() as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, sandbox: Sandbox) -> Home:
    """An isolated HOME whose environment points bp-helper at the sandbox (client bp-demo)."""
    return Home.make(tmp_path / "home", sandbox.env("bp-demo"))
