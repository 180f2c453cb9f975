"""What the command line says about a mistyped option or command: its name when that is safe
to say, and the closest known one."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from bp_helper.errors import UsageError

# What may be named of an unknown option: a word of letters and dashes; never what follows
# `=`, nor a word with digits or symbols, which may be a secret typed in the wrong place.
OPTION_NAME = re.compile(r"--?[A-Za-z][A-Za-z-]{0,39}")


# argparse quotes what was typed in these messages; they are said without it.
QUOTED = re.compile(
    r"(invalid choice|invalid \S+ value|ignored explicit argument|unrecognized arguments)"
    r":? .*?(?= \(choose from|$)"
)
CHOICE = re.compile(r"invalid choice: (?P<word>.*?) \(choose from (?P<choices>.*)\)$")


def parser_error(message: str, prog: str) -> UsageError:
    """argparse's ``message`` without what was typed; a mistyped choice gets the closest one."""
    hint = ""
    found = CHOICE.search(message)
    if found:
        word = found.group("word").strip("'")
        choices = [c.strip().strip("'") for c in found.group("choices").split(",")]
        close = difflib.get_close_matches(word, choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
    said = QUOTED.sub(lambda m: f"{m.group(1)} (not repeated here)", message)
    return UsageError(f"{said}{hint} (see `{prog} --help`)")


def unknown_option(word: str, known: Sequence[str], where: str) -> UsageError:
    """The error for the unknown option ``word`` of ``where`` (`bp-helper`, `bp-helper token`)."""
    name = word.partition("=")[0]
    options = f"the options of `{where}` are {', '.join(known)} (see `{where} --help`)"
    if not OPTION_NAME.fullmatch(name):
        return UsageError(f"an unknown option (not repeated here); {options}")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return UsageError(f"unknown option {name}{hint}; {options}")


def unknown_command(word: str, commands: Sequence[str]) -> UsageError:
    """The error for a command that does not exist; the word typed is not repeated (a secret
    given where a command was expected must not reach a log)."""
    close = difflib.get_close_matches(word, commands, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"the commands are {', '.join(commands)}"
    return UsageError(f"unknown command (not repeated here); {hint} (see `bp-helper --help`)")
