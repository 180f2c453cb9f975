"""Shared pytest fixtures."""

from __future__ import annotations

import compileall
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import bp_helper_integrations
import pytest

import bp_helper
from bp_helper.testing import Sandbox

from .support import UNMEASURED, Home

# The contract's tests live in a support module: pytest explains its failing asserts too.
pytest.register_assert_rewrite("tests.contract")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than there are cores. The tests mostly wait for the programs
    they start and for sockets, so a third worker on two cores fills those waits (measured
    here: the whole suite under --cov in 237 s instead of 268 s; a fourth gained nothing)."""
    return (os.cpu_count() or 1) + 1


# The tiers whose tests take longest, in the order they start: first.
LONGEST_FIRST = ("bench", "slow", "real_clients")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The benchmark, then the slow and real-client tiers, start first (otherwise in the order
    collected): one of them handed out last would keep its worker busy after the others
    are done."""

    def rank(item: pytest.Item) -> int:
        tiers = {mark.name for mark in item.iter_markers()}
        return next(
            (i for i, tier in enumerate(LONGEST_FIRST) if tier in tiers), len(LONGEST_FIRST)
        )

    items.sort(key=rank)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> object:
    """pytest keeps the test modules it rewrote (for its assert messages) in tests/__pycache__,
    as it does by default, also under PYTHONDONTWRITEBYTECODE: each worker would otherwise
    rewrite all of them again at every run (1.4 s of CPU each)."""
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        return (yield)
    finally:
        sys.dont_write_bytecode = saved


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the package once, as pip does for a regular install. The programs the tests
    start run with PYTHONDONTWRITEBYTECODE, and would otherwise compile every module they
    import, every time: about 40 % of their start-up."""
    if not hasattr(session.config, "workerinput"):  # once, in xdist's controller
        for package in (bp_helper, bp_helper_integrations):
            compileall.compile_dir(package.__path__[0], quiet=1)


@pytest.fixture(autouse=True)
def private_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process code writes its state (tokens, the config cache) under a temporary folder,
    never in the real user's; programs started with a :class:`Home` get their own."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def unmeasured_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under `pytest --cov`, the programs this test starts are not measured: for tests that
    start many of the same programs the fast tier measures (bursts, leak hunts) or a fuzzer,
    where coverage's start-up or tracer in every process would double the test's cost."""
    for name, value in UNMEASURED.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox token server (fresh per test), stopped afterwards."""
    with Sandbox() as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, sandbox: Sandbox) -> Home:
    """An isolated HOME whose environment points bp-helper at the sandbox (client bp-demo)."""
    return Home.make(tmp_path / "home", sandbox.env("bp-demo"))
