"""``git-credential-bioprodict``: git's credential-helper protocol over the token engine.

git runs ``git-credential-bioprodict get|store|erase`` with ``key=value`` lines on stdin, up to
a blank line or the end of input (git's ``git-credential`` documentation). Reading and
answering are pure functions (:func:`parse_request`, :func:`format_answer`); :func:`serve`
joins them to host binding and the :class:`~bp_helper.engine.service.TokenService`:

- ``get`` for a bound host answers ``username``, ``password`` (the access token) and
  ``password_expiry_utc``; when the request carries ``capability[]=authtype`` (git 2.46 and
  later) also ``capability[]=authtype``, ``authtype=Bearer`` and ``credential``. A ``username``
  in the request says whose token is wanted. The Bearer pair only when git passes on no
  challenge of the server (``wwwauth[]``) or a Bearer one: a host that asks for Basic alone
  gets the token as the Basic password, as older git sends it. Any other host: no answer,
  exit 0, and git asks its next helper. A login that nobody can type: a one-line hint on
  stderr, no answer.
- ``erase`` drops the cached access token (when it is the one git saw rejected), so that the
  next ``get`` refreshes. ``store`` changes nothing: the token store is already up to date.
- Unknown attributes and actions are ignored, as git asks of helpers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any, BinaryIO, NamedTuple

from bp_helper import log
from bp_helper.config.settings import Settings
from bp_helper.errors import BpError, LoginRequired
from bp_helper.protocols import rules
from bp_helper.protocols.program import run
from bp_helper.protocols.wire import InvalidRequest, Refused, read_lines, standard_input
from bp_helper.route import route
from bp_helper.secrets.prompt import choose_prompter
from bp_helper.tokens import StoredToken

ACTIONS = ("get", "store", "erase")

USAGE = """\
usage: git-credential-bioprodict [--profile NAME] [--config FILE] [--debug] get|store|erase

git's credential helper for Bio-Prodict access tokens. Configure it with
  git config --global credential.https://api.bio-prodict.nl.helper bioprodict
then git asks it for a token when a bound host wants a password."""


class GitRequest(NamedTuple):
    """What git asks about: a protocol and host, and perhaps a username or a credential."""

    protocol: str
    host: str  # host[:port], as git sends it
    username: str | None = None
    path: str | None = None
    secret: str | None = None  # the password (or pre-encoded credential) being stored or erased
    capabilities: frozenset[str] = frozenset()
    challenges: tuple[str, ...] = ()  # the server's WWW-Authenticate values (wwwauth[])

    @property
    def wants_bearer(self) -> bool:
        """Can git send the token as ``Authorization: Bearer``, and will the server take it?"""
        return rules.wants_bearer(self.capabilities, self.challenges)

    @property
    def where(self) -> str:
        return f"{self.protocol}://{self.host}"


def parse_request(data: bytes) -> GitRequest:
    """The request in ``data``; :class:`InvalidRequest` when it breaks a rule.

    Refused: a line over ``MAX_LINE`` bytes (with its newline), a NUL or CR anywhere, bytes
    that are not UTF-8, a line without ``=``, two different values for one attribute, no
    ``protocol`` or no ``host``, or a control character in either or in ``username`` (it is
    shown in a terminal prompt). The rules are :func:`bp_helper.protocols.rules.parse_git`.
    """
    try:
        values = rules.parse_git(data)
    except Refused as exc:
        raise InvalidRequest(exc.problem) from None
    single: dict[str, str] = {k: v for k, v in values.items() if isinstance(v, str)}
    return GitRequest(
        protocol=single["protocol"],
        host=single["host"],
        username=single["username"] or None,
        path=single.get("path"),
        secret=single.get("password") or single.get("credential") or None,
        capabilities=frozenset(values["capability[]"]),
        challenges=tuple(values["wwwauth[]"]),
    )


def format_answer(token: StoredToken, bearer: bool) -> bytes:
    """git's answer for ``token``; with ``bearer``, the authtype/credential pair first."""
    answer = rules.git_answer(token.account, token.access_token, token.expires_at, bearer)
    if answer is None:
        raise BpError("the stored username or token holds a line break; run `bp-helper login`")
    return answer


# -- the token side -------------------------------------------------------------------------


def serve(
    action: str,
    stdin: BinaryIO,
    stdout: BinaryIO,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
) -> int:
    """Answer one git request; the exit status (always 0 unless something failed)."""
    if action not in ACTIONS:
        log.debug(f"ignoring the unknown action {action!r}")
        return 0
    request = parse_request(read_lines(stdin))
    if action == "store":
        log.debug(f"store for {request.where}: nothing to do, bp-helper keeps its own tokens")
        return 0
    found = route(Settings(flags, environ), request.protocol, request.host, request.username)
    if found is None:
        log.debug(f"{request.where}: no answer")  # the route said which profile is not bound
        return 0
    settings = found.settings  # a username in the request is the login's
    service = found.service(lambda: choose_prompter(*_no_prompt(settings, environ)))
    if action == "erase":
        if service.forget_access_token(rejected=request.secret):
            log.debug(f"dropped the access token of profile {settings.profile!r}")
        return 0
    try:
        token = service.get()
    except LoginRequired as exc:
        log.error(f"no token for {request.where}: {exc.message}")
        return 0
    stdout.write(format_answer(token, request.wants_bearer))
    stdout.flush()
    return 0


def _no_prompt(settings: Settings, environ: Mapping[str, str]) -> tuple[bool, str]:
    """Whether prompting is off, and why: git's GIT_TERMINAL_PROMPT=0 counts too."""
    if settings.value("noninteractive"):
        return True, f"set by {settings.resolve('noninteractive').source}"
    value = environ.get("GIT_TERMINAL_PROMPT", "").strip()
    if value.lower() in ("0", "false", "no", "off"):  # git reads it as a boolean
        return True, f"GIT_TERMINAL_PROMPT={value}"
    return False, ""


def cmd_git(args: argparse.Namespace, settings: Settings) -> int:
    """``bp-helper git ACTION``: the same protocol behind the main command."""
    stdin, stdout = standard_input(), sys.stdout.buffer
    return serve(args.action, stdin, stdout, settings.flags, settings.environ)


def main(argv: list[str] | None = None) -> int:
    """``git-credential-bioprodict``."""
    return run("git-credential-bioprodict", USAGE, serve, argv)
