"""``bp-helper``: the command line, and the one place where errors become one line.

Commands live in their own modules and are imported only when chosen, so that
``bp-helper token`` with a fresh cached token stays close to the cost of starting Python.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__, log
from .errors import UsageError, exit_status
from .settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]

# Command-line flags that are settings (see bp_helper.settings).
SETTING_FLAGS = ("profile", "config", "token_url", "hosts", "client_id", "noninteractive")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("settings (flag > environment > config profile > default)")
    group.add_argument("--profile", default=default, help="profile name [BIOPRODICT_PROFILE]")
    group.add_argument("--config", default=default, help="config file [BIOPRODICT_CONFIG]")
    group.add_argument("--token-url", default=default, help="token URL [BIOPRODICT_TOKEN_URL]")
    group.add_argument(
        "--hosts", default=default, help="hosts the token may go to [BIOPRODICT_HOSTS]"
    )
    group.add_argument("--client-id", default=default, help="client id [BIOPRODICT_CLIENT_ID]")
    group.add_argument(
        "--non-interactive",
        dest="noninteractive",
        action="store_const",
        const=True,
        default=default,
        help="never prompt [BIOPRODICT_NONINTERACTIVE=1]",
    )
    group.add_argument(
        "--debug",
        action="store_const",
        const=True,
        default=default,
        help="log requests and decisions to stderr (secrets redacted)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bp-helper",
        description="Get, cache, refresh and hand out Bio-Prodict (3DM) API access tokens.",
        epilog="Exit status: 0 ok, 1 failure, 2 usage or configuration error, "
        "3 login needed but nobody can be asked.",
    )
    parser.add_argument("--version", action="version", version=f"bp-helper {__version__}")
    _common_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _common_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help: str, **kwargs: object) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[common], **kwargs)  # type: ignore[arg-type]

    p = command("login", "log in with username and password and store the tokens")
    p.add_argument("--username", help="3DM account username [BIOPRODICT_USERNAME]")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    p.add_argument("--twofactor", metavar="CODE", help="two-factor code [BIOPRODICT_TWOFACTOR]")
    p.add_argument(
        "--remember-password",
        action="store_true",
        help="keep the password in the OS keyring for later logins (needs bp-helper[keyring])",
    )

    command("token", "print a valid access token on stdout")

    p = command("status", "show login state, token expiry and where each setting came from")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("logout", "forget the stored tokens (and remembered password) of the profile")
    p.add_argument("--all", action="store_true", help="forget the tokens of every profile")

    p = command("doctor", "check config, secrets, keyring, storage, clock and connectivity")
    p.add_argument("--offline", action="store_true", help="skip the checks that need the network")

    p = command("sandbox", "run a local stand-in of the Bio-Prodict token server")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    p.add_argument(
        "--token-lifetime", type=int, default=43200, help="access token lifetime in seconds"
    )

    command("demo", "a self-contained walkthrough on the sandbox server")

    for name, actions in (("git", "get|store|erase"), ("docker", "get|store|erase|list|version")):
        p = command(name, f"{name}'s credential-helper protocol (as {name}-credential-bioprodict)")
        p.add_argument("action", metavar=actions, help="the protocol action; request on stdin")
    p = command("curl-config", "print a curl config (curl -K) with the Bearer token header")
    p.epilog = (
        "curl sends the header to every URL of the command that reads the config, but not "
        "across redirects to other hosts. The file holds a live token: keep it private."
    )
    p.add_argument("--output", metavar="FILE", help="write FILE (mode 0600, atomic) instead")
    command(
        "curl",
        "run curl with the token on a pipe, never in argv or environment (bound URLs only)",
        usage="bp-helper [options] curl [curl arguments...]",
    )
    p = command("netrc", "print netrc entries (the access token as password) for the bound hosts")
    p.epilog = (
        "netrc credentials are sent as Basic auth (login:password), for tools and gateways "
        "that take the token as a password; for an Authorization: Bearer header use "
        "`bp-helper curl-config`."
    )
    p.add_argument(
        "--output", metavar="FILE", help="merge into FILE, keeping its other entries (0600)"
    )
    return parser


def _split_passthrough(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``bp-helper [options] curl ARGS...``: everything after ``curl`` belongs to curl."""
    valued = {"--profile", "--config", "--token-url", "--hosts", "--client-id"}
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "curl":
            return argv[: index + 1], argv[index + 1 :]
        if not word.startswith("-"):
            break
        index += 2 if word in valued else 1
    return argv, None


def _handler(name: str) -> Handler:
    if name in ("login", "token", "status", "logout"):
        from . import commands

        handler: Handler = getattr(commands, f"cmd_{name}")
        return handler
    if name == "doctor":
        from .doctor import cmd_doctor

        return cmd_doctor
    if name == "sandbox":
        from .demo import cmd_sandbox

        return cmd_sandbox
    if name == "demo":
        from .demo import cmd_demo

        return cmd_demo
    if name == "git":
        from .protocols.git import cmd_git

        return cmd_git
    if name == "docker":
        from .protocols.docker import cmd_docker

        return cmd_docker
    if name in ("curl", "curl-config", "netrc"):
        # integrations/ installs as bp_helper_integrations (see pyproject.toml)
        from bp_helper_integrations import curl, netrc

        handlers = {"curl": curl.cmd_curl, "curl-config": curl.cmd_curl_config}
        chosen: Handler = handlers.get(name, netrc.cmd_netrc)
        return chosen
    raise UsageError(f"unknown command {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bp-helper``; every error ends as one line on stderr (see ``exit_status``)."""
    return exit_status(lambda: _run(list(sys.argv[1:] if argv is None else argv)))


def _run(argv: list[str]) -> int:
    argv, passthrough = _split_passthrough(argv)
    args = build_parser().parse_args(argv)
    args.curl_args = passthrough
    if getattr(args, "debug", None):
        log.enable_debug()
    if not args.command:
        raise UsageError("no command given (see `bp-helper --help`)")
    flags = {name: getattr(args, name, None) for name in SETTING_FLAGS}
    flags["username"] = getattr(args, "username", None)
    flags["twofactor"] = getattr(args, "twofactor", None)
    return _handler(args.command)(args, Settings(flags))


if __name__ == "__main__":
    sys.exit(main())
