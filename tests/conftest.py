"""Shared pytest fixtures."""

from __future__ import annotations

import compileall
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import bp_helper_integrations
import pytest

import bp_helper
from bp_helper.quick import FULL_PATH
from bp_helper.testing import Sandbox

from .support import UNMEASURED, Home

# The contract's tests live in a support module: pytest explains its failing asserts too.
pytest.register_assert_rewrite("tests.contract")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than there are cores. The tests mostly wait for the programs
    they start and for sockets, so a third worker on two cores fills those waits (measured
    here: the whole suite under --cov in 237 s instead of 268 s; a fourth gained nothing)."""
    return (os.cpu_count() or 1) + 1


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the programs the tests start, however the suite was started.

    A non-interactive shell starts a background command (`.ci/run &`, a runner without job
    control) with SIGINT ignored, which every program inherits and Python then keeps: the
    tests that press Ctrl-C would see it ignored. A handler, unlike "ignored", does not
    outlive `exec`, so every program starts with the default again.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``helper_path``: the test runs twice, once as the helpers run (the cached path of
    :mod:`bp_helper.quick` where it answers) and once with every request on the full path.
    Tests of the slow tier run once, on the cached path; tests marked ``no_cached_path``
    (only requests that have none: store, erase, list, version) once, on the full path."""
    if "helper_path" in metafunc.fixturenames:
        slow = metafunc.definition.get_closest_marker("slow") is not None
        full_only = metafunc.definition.get_closest_marker("no_cached_path") is not None
        paths = ["full"] if full_only else ["quick"] if slow else ["quick", "full"]
        metafunc.parametrize("helper_path", paths, indirect=True)


@pytest.fixture
def helper_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The path the helper executables take: "quick", or "full" (BP_HELPER_FULL_PATH=1, which
    only the tests set: it can only make a helper slower). Request it before ``home``, which
    copies the variable (``pytestmark = pytest.mark.usefixtures("helper_path")``)."""
    path: str = request.param
    if path == "full":
        monkeypatch.setenv(FULL_PATH, "1")
    else:
        monkeypatch.delenv(FULL_PATH, raising=False)
    return path


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
