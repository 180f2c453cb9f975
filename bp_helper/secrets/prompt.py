"""Asking a person: on the terminal (``/dev/tty``) or, when nobody can answer, not at all.

Whether this run may prompt is decided once, by :func:`choose_prompter`; everything else
just calls ``ask``. Prompts never go to stdout, which belongs to the token.
"""

from __future__ import annotations

import io
import os

from bp_helper.errors import LoginRequired
from bp_helper.lean import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Protocol

    class Prompter(Protocol):
        interactive: bool

        def ask(self, question: str, *, secret: bool) -> str: ...


TTY = "/dev/tty"


class TerminalPrompter:
    """Prompts on the controlling terminal; secrets are read without echo."""

    interactive = True

    def ask(self, question: str, *, secret: bool) -> str:
        try:
            if secret:
                import getpass

                answer = getpass.getpass(question)
            else:
                fd = os.open(TTY, os.O_RDWR | os.O_NOCTTY)
                with io.FileIO(fd, "r+") as tty:  # a terminal is not seekable: no buffering
                    tty.write(question.encode())
                    answer = tty.readline().decode("utf-8", errors="replace")
                if not answer:
                    raise EOFError
        except (OSError, EOFError):
            raise LoginRequired(f"cannot read the answer to {question.strip()!r}") from None
        return answer.rstrip("\r\n")


class NoPrompter:
    """Never asks: says why nobody can be asked, and what to do instead."""

    interactive = False

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def ask(self, question: str, *, secret: bool) -> str:
        raise LoginRequired(f"{question.strip().rstrip(':')} needed, but {self.reason}")


def choose_prompter(
    noninteractive: bool, why: str = "BIOPRODICT_NONINTERACTIVE is set"
) -> Prompter:
    """A terminal prompter only if there is a usable terminal and nothing forbids asking."""
    if noninteractive:
        return NoPrompter(f"non-interactive mode ({why})")
    try:
        fd = os.open(TTY, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return NoPrompter("there is no terminal to ask on")
    os.close(fd)
    return TerminalPrompter()
