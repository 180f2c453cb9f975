"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bp_helper.testing import Sandbox

from .support import Home

# The contract's tests live in a support module: pytest explains its failing asserts too.
pytest.register_assert_rewrite("tests.contract")


@pytest.fixture(autouse=True)
def private_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process code writes its state (tokens, the config cache) under a temporary folder,
    never in the real user's; programs started with a :class:`Home` get their own."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox token server (fresh per test), stopped afterwards."""
    with Sandbox() as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, sandbox: Sandbox) -> Home:
    """An isolated HOME whose environment points bp-helper at the sandbox (client bp-demo)."""
    return Home.make(tmp_path / "home", sandbox.env("bp-demo"))
