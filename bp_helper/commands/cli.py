"""``bp-helper``: the command line, and the one place where errors become one line.

Commands live in their own modules: :data:`HANDLERS` names each command's function as
``module:function``, imported when that command runs, so that ``bp-helper --help``,
``--version`` and shell completion (``completion --profiles`` runs on every Tab) import no
command they do not run.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bp_helper import log
from bp_helper.commands import mistakes, options
from bp_helper.config.settings import Settings
from bp_helper.config.table import SETTINGS, Setting, switch
from bp_helper.errors import UsageError, exit_status
from bp_helper.version import __version__

Handler = Callable[[argparse.Namespace, Settings], int]

# Settings with a command-line flag (see bp_helper.config.table).
SETTING_FLAGS = tuple(s.name for s in SETTINGS if s.flag)


class _Parser(argparse.ArgumentParser):
    """argparse without abbreviations (``--password`` is not ``--password-stdin``), whose
    errors never repeat what was typed: a mistyped option may be followed by a secret."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.commands = {}

    def error(self, message: str) -> None:  # type: ignore[override]
        raise mistakes.parser_error(message, self.prog)

    commands: dict[str, _Parser]

    def options(self) -> list[str]:
        """The long options this parser knows, for messages."""
        return sorted(o for a in self._actions for o in a.option_strings if o.startswith("--"))


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, as wide as the terminal."""

    def __init__(self, prog: str) -> None:
        width = shutil.get_terminal_size().columns
        super().__init__(prog, width=max(width - 2, 40))


def _setting_option(group: Any, setting: Setting, default: Any) -> None:
    """The option of a setting with a flag, its help naming the environment variables."""
    where = f" [{', '.join(setting.env)}]" if setting.env else ""
    if setting.convert is switch:
        group.add_argument(
            setting.flag,
            dest=setting.name,
            action="store_const",
            const=True,
            default=default,
            help=f"{setting.label}{where}",
        )
    else:
        group.add_argument(
            setting.flag,
            dest=setting.name,
            metavar=setting.metavar,
            default=default,
            help=f"{setting.label}{where}",
        )


def _common_options(
    parser: argparse.ArgumentParser, suppress: bool, only: Sequence[str] | None = None
) -> None:
    default = argparse.SUPPRESS if suppress else None
    title = "settings (flag > environment > config profile > default)"
    group = parser if only == () else parser.add_argument_group(title)
    for setting in SETTINGS:
        if setting.flag and setting.flag_of is None and (only is None or setting.name in only):
            _setting_option(group, setting, default)
    group.add_argument(
        "--debug",
        action="store_const",
        const=True,
        default=default,
        help="log requests and decisions to stderr (secrets redacted)",
    )


Options = Callable[[argparse.ArgumentParser], None]


def _sandbox_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    p.add_argument(
        "--token-lifetime", type=int, default=43200, help="access token lifetime in seconds"
    )
    p.add_argument(
        "--ca-file",
        metavar="FILE",
        help="also write the sandbox's CA certificate to FILE and keep it (a stable path "
        "for ca_bundle; with --port, configure once)",
    )


def _action(actions: str) -> Options:
    def options(p: argparse.ArgumentParser) -> None:
        p.add_argument("action", metavar=actions, help="the protocol action; request on stdin")

    return options


def _flag(name: str, help: str) -> Options:
    def options(p: argparse.ArgumentParser) -> None:
        p.add_argument(name, action="store_true", help=help)

    return options


def _output(help: str, epilog: str) -> Options:
    def options(p: argparse.ArgumentParser) -> None:
        p.epilog = epilog
        p.add_argument("--output", metavar="FILE", help=help)

    return options


def _no_options(p: argparse.ArgumentParser) -> None:
    pass


# name -> (help, options): the commands of `bp-helper`, in the order --help lists them.
COMMANDS: dict[str, tuple[str, Options]] = {
    "login": (
        "log in with username and password and store the tokens",
        options.login_options,
    ),
    "token": ("print a valid access token on stdout", options.token_options),
    "status": (
        "show login state, token expiry and where each setting came from",
        options.status_options,
    ),
    "logout": (
        "forget the stored tokens (and remembered password) of the profile",
        options.logout_options,
    ),
    "switch": (
        "make an account already logged in the one the profile uses (no password asked)",
        options.switch_options,
    ),
    "doctor": (
        "check config, secrets, keyring, storage, clock and connectivity",
        _flag("--offline", "skip the checks that need the network"),
    ),
    "setup": (
        "configure git, docker or podman/skopeo to use the helpers for the profile's hosts",
        options.setup_options,
    ),
    "config": (
        "set, get, unset or list keys of the config file (secrets never from argv)",
        options.config_options,
    ),
    "completion": (
        "print a shell completion script (bash, zsh or fish)",
        options.completion_options,
    ),
    "sandbox": ("run a local stand-in of the Bio-Prodict token server", _sandbox_options),
    "demo": ("a self-contained walkthrough on the sandbox server", _no_options),
    "git": (
        "git's credential-helper protocol (as git-credential-bioprodict)",
        _action("get|store|erase"),
    ),
    "docker": (
        "docker's credential-helper protocol (as docker-credential-bioprodict)",
        _action("get|store|erase|list|version"),
    ),
    "curl-config": (
        "print a curl config (curl -K) with the Bearer token header",
        _output(
            "write FILE (mode 0600, atomic) instead",
            "curl sends the header to every URL of the command that reads the config, but not "
            "across redirects to other hosts. The file holds a live token: keep it private.",
        ),
    ),
    "curl": (
        "run curl with the token on a pipe, never in argv or environment (bound URLs only)",
        _no_options,
    ),
    "netrc": (
        "print netrc entries (the access token as password) for the bound hosts",
        _output(
            "merge into FILE, keeping its other entries (0600)",
            "netrc credentials are sent as Basic auth (login:password), for tools and gateways "
            "that take the token as a password; for an Authorization: Bearer header use "
            "`bp-helper curl-config`.",
        ),
    ),
}
# The settings whose flags a command takes after its name, when not all of them: its --help
# lists only what applies to it. Before the command, `bp-helper` takes every one.
COMMAND_SETTINGS: dict[str, tuple[str, ...]] = {
    "logout": ("profile", "config"),
    "switch": ("profile", "config", "grant"),
    "setup": ("profile", "config", "token_url", "hosts", "grant"),
    "config": ("profile", "config"),
    "completion": (),
    "sandbox": (),
    "demo": (),
}
# name -> "module:function" that runs it, imported when that command runs (see the docstring).
HANDLERS: dict[str, str] = {
    "login": "bp_helper.commands.account:cmd_login",
    "token": "bp_helper.commands.account:cmd_token",
    "status": "bp_helper.commands.account:cmd_status",
    "logout": "bp_helper.commands.account:cmd_logout",
    "switch": "bp_helper.commands.switch:cmd_switch",
    "doctor": "bp_helper.commands.doctor:cmd_doctor",
    "setup": "bp_helper.commands.setup:cmd_setup",
    "config": "bp_helper.commands.config_edit:cmd_config",
    "completion": "bp_helper.commands.completion:cmd_completion",
    "sandbox": "bp_helper.demo.walkthrough:cmd_sandbox",
    "demo": "bp_helper.demo.walkthrough:cmd_demo",
    "git": "bp_helper.protocols.git:cmd_git",
    "docker": "bp_helper.protocols.docker:cmd_docker",
    # integrations/ installs as bp_helper_integrations (see pyproject.toml)
    "curl-config": "bp_helper_integrations.curl:cmd_curl_config",
    "curl": "bp_helper_integrations.curl:cmd_curl",
    "netrc": "bp_helper_integrations.netrc:cmd_netrc",
}
if TYPE_CHECKING:  # mypy holds every HANDLERS entry to an existing Handler
    from bp_helper_integrations.curl import cmd_curl, cmd_curl_config
    from bp_helper_integrations.netrc import cmd_netrc

    from bp_helper.commands.account import cmd_login, cmd_logout, cmd_status, cmd_token
    from bp_helper.commands.completion import cmd_completion
    from bp_helper.commands.config_edit import cmd_config
    from bp_helper.commands.doctor import cmd_doctor
    from bp_helper.commands.setup import cmd_setup
    from bp_helper.commands.switch import cmd_switch
    from bp_helper.demo.walkthrough import cmd_demo, cmd_sandbox
    from bp_helper.protocols.docker import cmd_docker
    from bp_helper.protocols.git import cmd_git

    CHECKED: tuple[Handler, ...] = (
        cmd_login, cmd_token, cmd_status, cmd_logout, cmd_doctor, cmd_sandbox, cmd_demo,
        cmd_git, cmd_docker, cmd_curl_config, cmd_curl, cmd_netrc, cmd_setup, cmd_config,
        cmd_completion, cmd_switch,
    )  # fmt: skip
VALUED_GLOBALS = frozenset(
    s.flag for s in SETTINGS if s.flag and s.flag_of is None and s.convert is not switch
)


def build_parser(only: str | None = None) -> _Parser:
    """The parser of every command, or (``only``) of one: argparse is paid per option."""
    parser = _Parser(
        prog="bp-helper",
        description="Get, cache, refresh and hand out Bio-Prodict (3DM) API access tokens.",
        epilog="Exit status: 0 ok, 1 failure, 2 usage or configuration error, "
        "3 login needed but nobody can be asked.",
    )
    parser.add_argument("--version", action="version", version=f"bp-helper {__version__}")
    _common_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help, add_options) in COMMANDS.items():
        if only is None or name == only:
            usage = "bp-helper [options] curl [curl arguments...]" if name == "curl" else None
            command = sub.add_parser(name, help=help, description=help, usage=usage)
            _common_options(command, suppress=True, only=COMMAND_SETTINGS.get(name))
            for setting in SETTINGS:
                if setting.flag and setting.flag_of == name:
                    _setting_option(command, setting, None)
            add_options(command)
            parser.commands[name] = command
    return parser


def _command_word(argv: list[str]) -> int | None:
    """Where the command name stands in ``argv`` (after the global options), if anywhere."""
    index = 0
    while index < len(argv):
        if not argv[index].startswith("-"):
            return index
        index += 2 if argv[index] in VALUED_GLOBALS else 1
    return None


GLOBAL_OPTIONS = frozenset(
    {"-h", "--help", "--version", "--debug"}
    | {s.flag for s in SETTINGS if s.flag and s.flag_of is None}
)


def _check_command_word(argv: list[str], at: int | None) -> None:
    """An unknown option before the command, or a command that does not exist, is named."""
    before = argv if at is None else argv[:at]
    words = [w for i, w in enumerate(before) if not (i and before[i - 1] in VALUED_GLOBALS)]
    unknown = [w for w in words if w.startswith("-") and w not in ("-", "--")]
    unknown = [w for w in unknown if w.partition("=")[0] not in GLOBAL_OPTIONS]
    if unknown or (at is not None and argv[at] not in COMMANDS):
        if unknown:
            raise mistakes.unknown_option(unknown[0], sorted(GLOBAL_OPTIONS), "bp-helper")
        raise mistakes.unknown_command(argv[at] if at is not None else "", list(COMMANDS))


def _handler(name: str) -> Handler:
    """The command's function: ``HANDLERS`` names it as ``module:function``."""
    module, _, function = HANDLERS[name].partition(":")
    handler: Handler = getattr(importlib.import_module(module), function)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bp-helper``; every error ends as one line on stderr (see ``exit_status``)."""
    return exit_status(lambda: _run(list(sys.argv[1:] if argv is None else argv)))


def _run(argv: list[str]) -> int:
    at = _command_word(argv)
    _check_command_word(argv, at)
    name = argv[at] if at is not None else None
    passthrough = None
    if name == "curl" and at is not None:  # everything after `curl` belongs to curl
        argv, passthrough = argv[: at + 1], argv[at + 1 :]
        if passthrough[:1] in (["-h"], ["--help"]):  # the wrapper's help, not curl's option
            argv.append("--help")
    parser = build_parser(name if name in COMMANDS else None)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # Never echoed: `login --password hunter2` must not print the password.
        known = parser.commands.get(args.command or "", parser).options()
        where = f"bp-helper {args.command}" if args.command else "bp-helper"
        options = [word for word in unknown if word.startswith("-") and word != "-"]
        if options:
            raise mistakes.unknown_option(options[0], known, where)
        raise UsageError(
            f"unrecognized arguments (not repeated here); the options of `{where}` are "
            f"{', '.join(known)} (see `{where} --help`)"
        )
    args.curl_args = passthrough
    if getattr(args, "debug", None):
        log.enable_debug()
    if not args.command:
        raise UsageError("no command given (see `bp-helper --help`)")
    flags = {name: getattr(args, name, None) for name in SETTING_FLAGS}
    return _handler(args.command)(args, Settings(flags))


if __name__ == "__main__":
    sys.exit(main())
