"""``bp-helper status --all``: every profile, its bound hosts and its login state at a glance."""

from __future__ import annotations

import json
from typing import Any

from bp_helper.commands.formatting import describe_user
from bp_helper.config.settings import Settings
from bp_helper.config.table import BY_NAME
from bp_helper.engine.grants import grant_of
from bp_helper.engine.store import TokenStore
from bp_helper.errors import BpError
from bp_helper.times import format_time, relative


def profile_names(settings: Settings) -> list[str]:
    """``default``, the profiles of the config file, and those that have stored tokens."""
    stored = TokenStore.profiles(settings.store_dir / "tokens")
    return list(dict.fromkeys(["default", *settings.profile_names(), *sorted(stored)]))


def profile_overview(settings: Settings, name: str) -> dict[str, Any]:
    one = settings.for_profile(name)
    entry: dict[str, Any] = {
        "profile": name,
        "in_config": name in settings.profile_names(),
        "hosts": [],
        "logged_in": False,
        "username": None,
        "expires_at": None,
        "fresh": False,
        "refresh_token": False,
        "problem": None,
    }
    try:
        for setting in BY_NAME:  # a profile with a bad value shows it here, not later
            one.resolve(setting)
        entry["hosts"] = one.value("hosts")
        account = grant_of(one).account  # the account its grant keeps its token under
        token = TokenStore(one.store_dir / "tokens", name).load(account)
        if token is not None:
            entry.update(
                logged_in=True,
                username=token.username,
                user=describe_user(token),
                expires_at=token.expires_at,
                expires=f"{format_time(token.expires_at)} ({relative(token.expires_at)})",
                fresh=token.fresh(one.value("refresh_margin")),
                refresh_token=token.has_refresh_token,
            )
    except BpError as exc:
        entry["problem"] = exc.message
    return entry


def print_all_profiles(settings: Settings, *, as_json: bool) -> int:
    entries = [profile_overview(settings, name) for name in profile_names(settings)]
    if as_json:
        print(json.dumps({"config_file": str(settings.config_path), "profiles": entries}, indent=2))
        return 0
    print(f"Config file: {settings.config_path}")
    current = settings.profile
    for entry in entries:
        mark = "*" if entry["profile"] == current else " "
        hosts = ", ".join(entry["hosts"]) or "-"
        if entry["problem"]:
            state = f"problem: {entry['problem']}"
        elif entry["logged_in"]:
            refresh = "refresh token" if entry["refresh_token"] else "no refresh token"
            state = f"{entry['user']}, token until {entry['expires']}, {refresh}"
        else:
            state = "not logged in"
        print(f"{mark} {entry['profile']:<12} {hosts:<32} {state}")
    return 0
