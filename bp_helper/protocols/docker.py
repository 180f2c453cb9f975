"""``docker-credential-bioprodict``: the docker credential-helper protocol over the token engine.

docker (and docker-py's ``docker.credentials.Store``) runs ``docker-credential-bioprodict
ACTION`` with the server URL on stdin for ``get`` and ``erase``, a JSON object for ``store``
and nothing for ``list`` and ``version`` (the docker-credential-helpers README). Reading and
answering are pure functions; :func:`serve` joins them to host binding and the token engine:

- ``get``: ``{"ServerURL", "Username", "Secret"}`` with the access token as the secret, for a
  server bound to a profile. Unbound, or bound but logged out (nobody can be asked here):
  exactly ``credentials not found in native keychain`` on stdout and exit 1, as docker expects.
- ``store``: ``{"ServerURL", "Username", "Secret"}`` from ``docker login`` is a password login
  for the bound profile; the tokens are stored, the password is not. docker writes back what
  ``get`` gave it on every ``docker login``: a secret that is an access token bp-helper holds
  is accepted as it is, with no request (never sent as a password). An identity token
  (``Username`` ``<token>``) is accepted only when the profile is logged in already.
- ``erase``: logs that profile out. ``list``: bound servers and their usernames.

Like docker's own helpers, failures are reported on stdout (docker shows the helper's
stdout); refused input gets one line on stderr and nothing on stdout.
"""

from __future__ import annotations

import argparse
import hmac
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, NamedTuple
from urllib.parse import urlsplit

from bp_helper import log
from bp_helper.config.profiles import candidate_profiles
from bp_helper.config.settings import Settings
from bp_helper.engine.service import TokenService
from bp_helper.errors import EXIT_FAILURE, BpError, LoginRequired
from bp_helper.protocols import rules
from bp_helper.protocols.program import run
from bp_helper.protocols.wire import (
    MAX_LINE,
    InvalidRequest,
    Refused,
    check_plain,
    check_value,
    decode,
    read_all,
    standard_input,
)
from bp_helper.route import Route, route
from bp_helper.secrets.prompt import NoPrompter, choose_prompter
from bp_helper.tokens import StoredToken
from bp_helper.version import __version__

Flags = Mapping[str, Any]

NOT_FOUND = "credentials not found in native keychain"
PROGRAM = "docker-credential-bioprodict"
MAX_JSON = 65536
IDENTITY_TOKEN_USER = "<token>"  # docker's username for "the secret is an identity token"

USAGE = f"""\
usage: {PROGRAM} [--profile NAME] [--config FILE] [--debug] get|store|erase|list|version

docker's credential helper for Bio-Prodict access tokens. Configure it in
~/.docker/config.json with
  {{"credHelpers": {{"api.bio-prodict.nl": "bioprodict"}}}}"""


class Server(NamedTuple):
    """A server as docker names it: ``host[:port]`` or an URL; https unless it says otherwise."""

    url: str  # as given, echoed back in answers
    scheme: str
    netloc: str


class StoreRequest(NamedTuple):
    server: Server
    username: str
    secret: str


def parse_server(data: bytes) -> Server:
    """The server URL that docker sends for ``get`` and ``erase``."""
    try:
        return _server(rules.server_text(data))
    except Refused as exc:
        raise InvalidRequest(exc.problem) from None


def _server(url: str) -> Server:
    try:
        rules.checked_server(url)
    except Refused as exc:
        raise InvalidRequest(exc.problem) from None
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
    except ValueError:
        raise InvalidRequest("the server URL cannot be parsed") from None
    if not parts.netloc:
        raise InvalidRequest("the server URL names no host")
    return Server(url, parts.scheme.lower(), parts.netloc)


def parse_store_request(data: bytes) -> StoreRequest:
    """The JSON object ``{"ServerURL", "Username", "Secret"}`` of ``store``."""
    if len(data) > MAX_JSON:
        raise InvalidRequest(f"JSON of more than {MAX_JSON} bytes")
    try:
        document = json.loads(decode(data, "the JSON"), object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise InvalidRequest("the input is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidRequest("the JSON is not an object")
    fields = {}
    for key in ("ServerURL", "Username", "Secret"):
        value = document.get(key)
        if not isinstance(value, str) or not value:
            raise InvalidRequest(f"the JSON has no {key} string")
        fields[key] = (check_value if key == "Secret" else check_plain)(value, key)
    return StoreRequest(_server(fields["ServerURL"]), fields["Username"], fields["Secret"])


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("duplicate key")  # which one counts would be a guess
    return document


def format_credentials(server: Server, token: StoredToken) -> bytes:
    return rules.docker_credentials(server.url, token.account, token.access_token)


def format_listing(usernames: Mapping[str, str]) -> bytes:
    return json.dumps(dict(usernames), sort_keys=True).encode() + b"\n"


# -- the token side -------------------------------------------------------------------------


class Answer(Exception):
    """Ends an action with ``text`` on stdout and an exit status (docker's error channel)."""

    def __init__(self, text: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(text)
        self.text = text
        self.exit_code = exit_code


def serve(
    action: str,
    stdin: BinaryIO,
    stdout: BinaryIO,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
) -> int:
    """Answer one docker request; the exit status."""
    try:
        if action not in ACTIONS:
            raise Answer(f"bp-helper: unknown action {action!r}: use {', '.join(ACTIONS)}")
        stdout.write(ACTIONS[action](stdin, flags, environ))
        code = 0
    except InvalidRequest:
        raise  # one line on stderr, nothing on stdout
    except Answer as answer:
        stdout.write(answer.text.encode() + b"\n")
        code = answer.exit_code
    except BpError as exc:
        stdout.write(log.redact(f"bp-helper: {exc.message}").encode() + b"\n")
        code = exc.exit_code
    stdout.flush()
    return code


def get(stdin: BinaryIO, flags: Flags, environ: Mapping[str, str]) -> bytes:
    server = parse_server(read_all(stdin, MAX_LINE))
    reason = "nobody can be asked over docker's credential protocol"
    service = _bound(server, flags, environ).service(lambda: NoPrompter(reason))
    try:
        token = service.get()
    except LoginRequired as exc:
        # Not `docker login`: containers tools' login writes their own auth file, and an
        # API host has no /v2/ for docker to check a password against.
        log.error(exc.message)
        raise Answer(NOT_FOUND) from None
    return format_credentials(server, token)


def store(stdin: BinaryIO, flags: Flags, environ: Mapping[str, str]) -> bytes:
    request = parse_store_request(read_all(stdin, MAX_JSON))
    log.add_secret(request.secret)
    server = request.server
    identity = request.username == IDENTITY_TOKEN_USER
    username = None if identity else request.username
    found = route(Settings(flags, environ), server.scheme, server.netloc, username)
    if found is None:
        raise BpError(
            f"no profile may send its token to {server.scheme}://{server.netloc}: add the host "
            "to `hosts` of a profile (https only; http only to loopback)"
        )
    settings = found.settings
    held = _held_token(found.service(), request.secret)
    if held is not None:
        log.debug(f"store: the secret is the access token of {held!r}: nothing to do")
        return b""
    if identity:
        if any(t.access_token for t in found.service().store.accounts()):
            log.debug("store: an identity token for a logged-in profile: nothing to do")
            return b""
        raise BpError(
            f"{server.netloc} answered `docker login` with an identity token, which bp-helper "
            f"does not use: log in with `bp-helper{_profile_flag(settings)} login`"
        )
    service = found.service(lambda: choose_prompter(settings.value("noninteractive")))
    service.login(username=request.username, password=request.secret)
    log.debug(f"logged in to profile {settings.profile!r} as {request.username!r}")
    return b""


def _held_token(service: TokenService, secret: str) -> str | None:
    """The account whose access token (or BIOPRODICT_TOKEN) ``secret`` is, if any."""
    candidates = [(t.account, t.access_token) for t in service.store.accounts()]
    env_token = service.settings.value("token")
    if env_token:
        candidates.append(("BIOPRODICT_TOKEN", env_token))
    for account, token in candidates:
        if token and hmac.compare_digest(token.encode(), secret.encode("utf-8", "surrogatepass")):
            return account
    return None


def _profile_flag(settings: Settings) -> str:
    return "" if settings.profile == "default" else f" --profile {settings.profile}"


def erase(stdin: BinaryIO, flags: Flags, environ: Mapping[str, str]) -> bytes:
    server = parse_server(read_all(stdin, MAX_LINE))
    found = _bound(server, flags, environ)
    if found.service().logout():
        log.debug(f"logged out of profile {found.profile!r}")
    return b""


def listing(stdin: BinaryIO, flags: Flags, environ: Mapping[str, str]) -> bytes:
    """Every bound host of a profile with a usable login, and whose login it is."""
    usernames: dict[str, str] = {}
    for settings in candidate_profiles(Settings(flags, environ)):
        try:
            service = TokenService(settings)
            token = service.env_token() or service.stored()
            hosts = settings.value("hosts")
        except BpError as exc:
            log.debug(f"profile {settings.flags['profile']!r} skipped: {exc.message}")
            continue
        if token is None:
            continue
        for host in hosts:
            usernames.setdefault(host, token.account)
    return format_listing(usernames)


def version(stdin: BinaryIO, flags: Flags, environ: Mapping[str, str]) -> bytes:
    return f"{PROGRAM} (bp-helper) {__version__}\n".encode()


def _bound(server: Server, flags: Flags, environ: Mapping[str, str]) -> Route:
    found = route(Settings(flags, environ), server.scheme, server.netloc)
    if found is None:
        log.debug(f"{server.scheme}://{server.netloc}: not found")  # the route said why
        raise Answer(NOT_FOUND)
    return found


ACTIONS: dict[str, Callable[[BinaryIO, Flags, Mapping[str, str]], bytes]] = {
    "get": get,
    "store": store,
    "erase": erase,
    "list": listing,
    "version": version,
}


def cmd_docker(args: argparse.Namespace, settings: Settings) -> int:
    """``bp-helper docker ACTION``: the same protocol behind the main command."""
    stdin, stdout = standard_input(), sys.stdout.buffer
    return serve(args.action, stdin, stdout, settings.flags, settings.environ)


def main(argv: list[str] | None = None) -> int:
    """``docker-credential-bioprodict``."""
    return run(PROGRAM, USAGE, serve, argv)
