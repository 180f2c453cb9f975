"""Test-only: record every Python process's start and every child process it starts.

``tests/test_leaks.py`` puts this folder on ``PYTHONPATH`` and names a log file in
``BP_TEST_AUDIT_LOG``. Each Python process then appends one JSON line for its own start (its
full argv and environment) and one for each child it starts, from the interpreter's audit
events (``subprocess.Popen``, ``os.exec``, ``os.posix_spawn``, ``os.spawn``, ``os.system``):
the child's argv and the environment it gets. Appends of one short line are atomic enough
for the few processes a test runs at once; a failure to log never disturbs the program.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

_LOG = os.environ.get("BP_TEST_AUDIT_LOG")


def _text(value: Any) -> str:
    return os.fsdecode(value) if isinstance(value, str | bytes | os.PathLike) else str(value)


def _env(env: Any) -> dict[str, str]:
    """The child's environment: as given, or (``None``) inherited from this process."""
    source = os.environ if env is None else env
    return {_text(key): _text(value) for key, value in dict(source).items()}


def _argv(args: Any) -> list[str]:
    if isinstance(args, str | bytes | os.PathLike):
        return [_text(args)]
    return [_text(arg) for arg in args]


def _write(event: str, argv: list[str], env: dict[str, str] | None) -> None:
    if not _LOG:
        return
    record = {"event": event, "pid": os.getpid(), "argv": argv, "env": env}
    try:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
    except Exception:
        pass


def _hook(event: str, args: tuple[Any, ...]) -> None:
    try:
        if event == "subprocess.Popen":  # (executable, args, cwd, env)
            _write(event, _argv(args[1]), _env(args[3]))
        elif event in ("os.exec", "os.posix_spawn"):  # (path, argv, env)
            _write(event, _argv(args[1]), _env(args[2]))
        elif event == "os.spawn":  # (mode, path, args, env)
            _write(event, _argv(args[2]), _env(args[3]))
        elif event == "os.system":  # (command,)
            _write(event, [_text(args[0])], _env(None))
    except Exception:
        pass


if _LOG:
    _write("start", [_text(arg) for arg in getattr(sys, "orig_argv", sys.argv)], _env(None))
    sys.addaudithook(_hook)
