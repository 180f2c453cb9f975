"""What each command of ``bp-helper`` takes: its arguments and options, for the parser.

Apart from the code that runs the commands, so that the parser of every command (``bp-helper
--help``, ``--version``, shell completion) is built without importing any of them; the
command runs from :data:`~bp_helper.commands.cli.HANDLERS`. The settings' flags come from
the settings table (:mod:`bp_helper.config.table`), not from here.
"""

from __future__ import annotations

import argparse

from bp_helper.config.table import SETTINGS, Setting

CONFIG_ACTIONS = ("set", "get", "unset", "list", "path")
# The keys `bp-helper config` edits: every setting with a config key.
CONFIG_KEYS: dict[str, Setting] = {s.key: s for s in SETTINGS if s.key}
SHELLS = ("bash", "zsh", "fish")


def login_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    p.add_argument(
        "--remember-password",
        action="store_true",
        help="keep the password in the OS keyring for later logins (needs the keyring extra)",
    )


def logout_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="forget the tokens of every profile")
    p.add_argument(
        "--username",
        dest="account",
        metavar="NAME",
        help="forget only this account of the profile (default: every account)",
    )


def token_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--renew",
        action="store_true",
        help="drop the cached access token and get a new one (after a server revoked it)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print access_token, expires_at, username, profile and token_type as JSON",
    )


def status_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--all", action="store_true", help="every profile: its hosts and login state")


def switch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("user", metavar="USER", help="an account of the profile that has logged in")
    p.epilog = (
        "No password is asked: USER must have logged in to the profile before "
        "(`bp-helper status` lists its accounts). A configured username is updated."
    )


def setup_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("tool", choices=("git", "docker", "containers"), metavar="git|docker|containers")
    p.add_argument("--remove", action="store_true", help="take out what setup added")
    p.add_argument(
        "--all", action="store_true", help="with --remove: for every profile and host (uninstall)"
    )
    p.epilog = (
        "git: credential.https://HOST.helper in the global git config; docker: credHelpers "
        "in ~/.docker/config.json ($DOCKER_CONFIG); containers: credHelpers in "
        "$REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json or (root) "
        "/run/containers/0/auth.json."
    )


def config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=CONFIG_ACTIONS, metavar="set|get|unset|list|path")
    p.add_argument("key", nargs="?", metavar="KEY", help=f"one of: {', '.join(CONFIG_KEYS)}")
    p.add_argument(
        "value",
        nargs="?",
        metavar="VALUE",
        help="the new value (secret keys: from standard input or a hidden prompt, never here)",
    )
    p.add_argument(
        "--all", action="store_true", help="with unset: remove the whole [profiles.NAME] table"
    )
    p.epilog = (
        "Edits [profiles.NAME] (--profile, default: default) of the config file, keeping "
        "comments and other tables. Lists (hosts) are comma-separated."
    )


def completion_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", nargs="?", choices=SHELLS, metavar="bash|zsh|fish")
    p.add_argument("--profiles", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--accounts", action="store_true", help=argparse.SUPPRESS)
    p.epilog = (
        'bash: eval "$(bp-helper completion bash)" in ~/.bashrc; zsh: the same with zsh in '
        "~/.zshrc; fish: bp-helper completion fish > ~/.config/fish/completions/bp-helper.fish"
    )
