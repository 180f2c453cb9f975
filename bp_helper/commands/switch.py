"""``bp-helper switch USER``: make an account already logged in the one every front-end of the
profile uses, without a password; and the same step at the end of ``bp-helper login``.

An account is used everywhere when it is the token store's default account (requests that
name no user get it) and no configured ``username`` picks another one. So both are changed
here, together: the store's order, and a ``username`` key of ``[profiles.NAME]`` through
``bp-helper config set`` (its checks and its message). A ``BIOPRODICT_USERNAME`` of the
environment cannot be changed from here: it is named instead.
"""

from __future__ import annotations

import argparse

from bp_helper import log
from bp_helper.commands.config_edit import cmd_config
from bp_helper.commands.formatting import describe_user
from bp_helper.config.settings import Settings
from bp_helper.config.table import PASSWORD
from bp_helper.engine.login import login_command, profile_command
from bp_helper.engine.service import TokenService
from bp_helper.errors import BpError, UsageError


def cmd_switch(args: argparse.Namespace, settings: Settings) -> int:
    profile = settings.profile
    if settings.value("grant") != PASSWORD:  # only people log in to accounts
        raise UsageError(
            f"profile {profile!r} uses the {settings.value('grant')} grant: it has no accounts "
            "to switch between"
        )
    service = TokenService(settings)
    with service.store.lock(service.lock_timeout):
        token = service.store.load(args.user)
        if token is None:
            raise UsageError(
                f"profile {profile!r} has no login of {args.user!r} to switch to: run "
                f"`{login_command(settings, args.user)}`"
            )
        service.store.save(token, default=True)
    print(f"Profile {profile!r} now uses {describe_user(token)}.")
    use_everywhere(settings, token.account)
    return 0


def use_everywhere(settings: Settings, account: str) -> None:
    """Make a configured ``username`` name ``account`` (saying so); name an environment
    variable that still picks another account."""
    configured = settings.profile_table.get("username")
    if isinstance(configured, str) and configured and configured != account:
        try:
            cmd_config(argparse.Namespace(action="set", key="username", value=account), settings)
        except BpError as exc:  # the account is the store's default all the same
            log.warn(
                f"{exc.message}; `username` still names {configured!r}: run "
                f"`{profile_command(settings)} config set username {account}`"
            )
            return
        print(
            f"(It was {configured!r}: every front-end of profile {settings.profile!r} now "
            f"uses {account!r}.)"
        )
    chosen = settings.environ.get("BIOPRODICT_USERNAME")
    if chosen and chosen != account:
        log.warn(
            f"BIOPRODICT_USERNAME={chosen} in this environment still picks {chosen!r} for "
            f"profile {settings.profile!r}: unset it to use {account!r}"
        )
