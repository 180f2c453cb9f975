"""The command lines of the two helper executables, and their one exit point.

``git-credential-bioprodict [--profile NAME] [--config FILE] [--debug] ACTION``: git appends
the action to the helper's configured command line (``credential.helper = "bioprodict
--profile staging"``). ``docker-credential-bioprodict`` reads the same options (the rows of
the settings table marked ``helpers``). :func:`run` turns every error into one line on stderr,
as :func:`bp_helper.commands.cli.main` does for ``bp-helper``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO, NamedTuple

from bp_helper import log
from bp_helper.config.table import SETTINGS
from bp_helper.errors import UsageError, exit_status
from bp_helper.protocols.wire import standard_input
from bp_helper.version import __version__

Serve = Callable[[str, BinaryIO, BinaryIO, Mapping[str, Any], Mapping[str, str]], int]
# option -> setting name, for the settings the helper executables take as options
VALUED = {s.flag: s.name for s in SETTINGS if s.helpers and s.flag}
SWITCHES = frozenset({"--debug", "--help", "-h", "--version"})


class Invocation(NamedTuple):
    action: str | None
    flags: dict[str, str] = {}  # noqa: RUF012 -- never mutated
    switches: frozenset[str] = frozenset()


def parse_argv(argv: Sequence[str]) -> Invocation:
    """Options and the one action; a :class:`UsageError` for anything else."""
    flags: dict[str, str] = {}
    switches: set[str] = set()
    actions: list[str] = []
    items = iter(argv)
    for item in items:
        name, equals, value = item.partition("=")
        if name in VALUED:
            if not equals:
                value = next(items, "")
            if not value:
                raise UsageError(f"{name} needs a value")
            flags[VALUED[name]] = value
        elif item in SWITCHES:
            switches.add(item)
        elif item.startswith("-"):
            known = ", ".join(sorted({*VALUED, *SWITCHES} - {"-h"}))
            raise UsageError(f"unknown option (not repeated here); the options are {known}")
        else:
            actions.append(item)
    if len(actions) > 1:
        raise UsageError(f"one action expected, got {len(actions)}")
    return Invocation(actions[0] if actions else None, flags, frozenset(switches))


def run(program: str, usage: str, serve: Serve, argv: Sequence[str] | None = None) -> int:
    """Run ``program``; every error ends as one line on stderr (see ``exit_status``)."""

    def body() -> int:
        invocation = parse_argv(sys.argv[1:] if argv is None else argv)
        if "--debug" in invocation.switches:
            log.enable_debug()
        if invocation.switches & {"--help", "-h"}:
            print(usage)
            return 0
        if "--version" in invocation.switches:
            print(f"{program} (bp-helper) {__version__}")
            return 0
        if invocation.action is None:
            raise UsageError(f"no action given (see `{program} --help`)")
        return serve(
            invocation.action, standard_input(), sys.stdout.buffer, invocation.flags, os.environ
        )

    return exit_status(body)
