"""Asking a person: on the terminal (``/dev/tty``), in a notebook, or when nobody can answer,
not at all.

Whether this run may prompt, and where, is decided once, by :func:`choose_prompter`;
everything else just calls ``ask``. Prompts never go to stdout, which belongs to the token.
"""

from __future__ import annotations

import getpass
import io
import os
import sys
from typing import Any, Protocol

from bp_helper.errors import Cancelled, LoginRequired


class Prompter(Protocol):
    @property
    def interactive(self) -> bool: ...

    @property
    def password_retries(self) -> int:
        """How many more times a refused password that this prompter asked for is asked."""
        ...

    def ask(self, question: str, *, secret: bool) -> str: ...


TTY = "/dev/tty"


class TerminalPrompter:
    """Prompts on the controlling terminal; secrets are read without echo.

    A refused password is asked again, twice at most (three tries in all), as ssh and gh do:
    a typo should not cost the whole command.
    """

    interactive = True
    password_retries = 2

    def ask(self, question: str, *, secret: bool) -> str:
        try:
            if secret:
                answer = getpass.getpass(question)
            else:
                fd = os.open(TTY, os.O_RDWR | os.O_NOCTTY)
                with io.FileIO(fd, "r+") as tty:  # a terminal is not seekable: no buffering
                    tty.write(question.encode())
                    answer = tty.readline().decode("utf-8", errors="replace")
                if not answer:
                    raise EOFError
        except (OSError, EOFError):
            raise LoginRequired(
                f"no answer to {question.strip()!r}: run `bp-helper login` again when ready"
            ) from None
        except KeyboardInterrupt:
            raise Cancelled(
                "login cancelled at the prompt: nothing was sent or changed; run "
                "`bp-helper login` again when ready"
            ) from None
        return answer.rstrip("\r\n")


class NoPrompter:
    """Never asks: says why nobody can be asked, and what to do instead."""

    interactive = False
    password_retries = 0

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def ask(self, question: str, *, secret: bool) -> str:
        raise LoginRequired(f"{question.strip().rstrip(':')} needed, but {self.reason}")


class NotebookPrompter:
    """Prompts through the frontend of the IPython kernel this code runs in (a notebook).

    Kernels run without a terminal, but their frontend can answer: the question appears in
    the notebook, a secret in a hidden field. Whether the frontend takes input is known per
    cell execution (``allow_stdin``), so it is read when asked, not once. A refused password
    is asked again (twice at most): re-running a notebook cell costs more than a command.
    """

    password_retries = 2

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel

    @property
    def interactive(self) -> bool:
        return bool(getattr(self.kernel, "_allow_stdin", False))

    @property
    def reason(self) -> str:  # what ``status`` says when nobody can be asked
        return "this notebook's frontend does not accept input"

    def ask(self, question: str, *, secret: bool) -> str:
        refused = LoginRequired(f"{question.strip().rstrip(':')} needed, but {self.reason}")
        if not self.interactive:
            raise refused
        ask = self.kernel.getpass if secret else self.kernel.raw_input  # getpass: hidden
        try:
            answer = ask(question)
        except EOFError:
            raise LoginRequired(f"no answer to {question.strip()!r}") from None
        except NotImplementedError:  # IPython's StdinNotImplementedError
            raise refused from None
        except KeyboardInterrupt:
            raise Cancelled(
                "login cancelled in the notebook: nothing was sent or changed"
            ) from None
        return str(answer).rstrip("\r\n")


def notebook_kernel() -> Any:
    """The IPython kernel running this code, or ``None`` (looked up without importing IPython)."""
    if "ipykernel" not in sys.modules:
        return None
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not callable(getattr(kernel, "raw_input", None)):
        return None
    return kernel


def choose_prompter(
    noninteractive: bool, why: str = "BIOPRODICT_NONINTERACTIVE is set"
) -> Prompter:
    """Where to ask, if anywhere: nowhere when asking is forbidden; in the notebook inside an
    IPython kernel (its frontend, not a terminal, is where the person is); else on the
    terminal if there is a usable one."""
    if noninteractive:
        return NoPrompter(f"non-interactive mode ({why})")
    kernel = notebook_kernel()
    if kernel is not None:
        return NotebookPrompter(kernel)
    try:
        fd = os.open(TTY, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return NoPrompter("there is no terminal to ask on")
    os.close(fd)
    return TerminalPrompter()
