"""The account commands: ``login``, ``token``, ``status`` and ``logout``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from bp_helper import log
from bp_helper.commands.formatting import describe_user, refresh_note
from bp_helper.commands.overview import print_all_profiles
from bp_helper.commands.switch import use_everywhere
from bp_helper.config.settings import Settings
from bp_helper.config.table import BY_NAME
from bp_helper.engine.grants import Grant
from bp_helper.engine.logout import forget_profile
from bp_helper.engine.store import TokenStore
from bp_helper.errors import EXIT_USAGE, BpError, UsageError
from bp_helper.route import profile_route
from bp_helper.secrets.oskeyring import OsKeyring
from bp_helper.secrets.profile_keyring import ProfileKeyring
from bp_helper.secrets.prompt import choose_prompter
from bp_helper.secrets.report import keyring_kind, secret_report
from bp_helper.secrets.report import report as whereabouts_report
from bp_helper.secrets.sources import MAX_SECRET, strip_line
from bp_helper.times import format_time, relative
from bp_helper.tokens import StoredToken


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    service = profile_route(settings).service()
    if getattr(args, "renew", False):
        service.forget_access_token()  # the refresh token stays: the next get refreshes
    token = service.get()
    if getattr(args, "json", False):
        answer = {
            "access_token": token.access_token,
            # None: no expiry known (a ready-made BIOPRODICT_TOKEN)
            "expires_at": int(token.expires_at) if math.isfinite(token.expires_at) else None,
            "username": token.username or None,
            "profile": settings.profile,
            "token_type": token.token_type,
        }
        sys.stdout.write(json.dumps(answer) + "\n")
    else:
        sys.stdout.write(token.access_token + "\n")
    sys.stdout.flush()
    return 0


def cmd_login(args: argparse.Namespace, settings: Settings) -> int:
    password = None
    if args.password_stdin:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("--password-stdin needs the password on standard input")
        given = sys.stdin.read(MAX_SECRET + 1)
        if len(given) > MAX_SECRET:
            raise UsageError(
                f"--password-stdin: more than {MAX_SECRET // 1024} KiB on standard input; "
                "give the password alone"
            )
        password = strip_line(given)
        if not password:
            raise UsageError("--password-stdin: standard input was empty")
        log.add_secret(password)
    service = profile_route(settings).service()
    token = service.login(
        username=args.username,
        password=password,
        twofactor=None,  # --twofactor is a setting: the two-factor sources find it
        remember_password=args.remember_password,
    )
    for line in service.grant.login_lines(describe_user(token)):
        print(line)
    print(f"Access token valid until {format_time(token.expires_at)}; {refresh_note(token)}.")
    if token.audience is None:  # a person's account (a machine token has an audience)
        use_everywhere(settings, token.account)  # the account every front-end uses, like gh's
    stored = service.store.load()
    if stored is not None and stored.password_in_keyring:
        print("The password is remembered in the keyring (`bp-helper logout` forgets it).")
    return 0


def cmd_logout(args: argparse.Namespace, settings: Settings) -> int:
    if args.all:
        directory = settings.store_dir / "tokens"
        names = TokenStore.profiles(directory)
        keyring = OsKeyring(settings.value("keyring_timeout"))
        for name in names:
            store = TokenStore(directory, name)
            with store.lock(30):
                forget_profile(store, ProfileKeyring(name, keyring, refresh_in_keyring=False))
        print(f"Forgot the tokens of {len(names)} profile(s).")
        return 0
    account = getattr(args, "account", None)
    if account is not None:
        if profile_route(settings).service().logout(account):
            print(f"Logged {account!r} out of profile {settings.profile!r}.")
        else:
            print(f"Profile {settings.profile!r} has no account {account!r}.")
        return 0
    if profile_route(settings).service().logout():
        print(f"Logged out of profile {settings.profile!r}.")
    else:
        print(f"Profile {settings.profile!r} had no stored tokens.")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    if args.all:
        return print_all_profiles(settings, as_json=args.json)
    report = status_report(settings)
    status = EXIT_USAGE if report["problems"] else 0  # each is a configuration error
    if args.json:
        print(json.dumps(report, indent=2))
        return status
    login = report["login"]
    print(f"Profile:        {report['profile']['value']} ({report['profile']['source']})")
    missing = "" if report["config_file_exists"] else " (does not exist)"
    print(f"Config file:    {report['config_file']}{missing}")
    print(f"Token store:    {report['store']}")
    audience = f" (audience {report['audience']})" if report["audience"] else ""
    print(f"Grant:          {report['grant']}{audience}")
    if report.get("env_token"):
        print("Login:          BIOPRODICT_TOKEN is set: it is handed out as is, nothing is cached")
    elif login:
        print(f"Logged in as:   {login['user']}")
        print(f"Token expires:  {login['expires']}")
        print(f"Refresh token:  {'available' if login['refresh_token'] else 'none'}")
        if len(report["accounts"]) > 1:
            print("Accounts:       (the default, for requests that name no user, first)")
            for item in report["accounts"]:
                mark = "default" if item["default"] else "       "
                print(f"  {mark} {item['user']}: expires {item['expires']}")
    else:
        label, text = report["no_token"]
        print(f"{label + ':':16}{text}")
    print("Secrets:        (where bp-helper gets each; where it is kept)")
    for name, item in report["secrets"].items():
        if item["kept"].startswith("not used"):
            print(f"  {name:16} {item['kept']}")
        else:
            print(f"  {name:16} from {item['source'] or 'nowhere'}; kept: {item['kept']}")
    plaintext = report["plaintext"]
    print(f"Plaintext:      {', '.join(plaintext) if plaintext else 'nothing'} kept unencrypted")
    print("Settings:")
    width = max(map(len, report["settings"]), default=0)
    for name, item in report["settings"].items():
        print(f"  {name:{width}} {item['shown']}  [{item['source']}]")
    for problem in report["problems"]:
        print(f"Problem:        {problem}")
    return status


def status_report(settings: Settings) -> dict[str, Any]:
    """What ``status`` shows; secrets appear only as "(set)"."""
    problems: list[str] = []
    shown: dict[str, dict[str, Any]] = {}
    profile = settings.resolve("profile")
    for name in BY_NAME:
        if name in ("profile", "config"):
            continue
        try:
            resolved = settings.resolve(name)
            value = resolved.shown() if BY_NAME[name].secret else resolved.value
            shown[name] = {"value": value, "shown": resolved.shown(), "source": resolved.source}
        except BpError as exc:
            problems.append(exc.message)
            shown[name] = {"value": None, "shown": "(invalid)", "source": ""}
    login: dict[str, Any] | None = None
    service = profile_route(settings).service()
    try:
        grant = service.grant
    except BpError:  # an invalid grant (named among the problems): say what a person's would
        grant = Grant(settings)
    token: StoredToken | None = None
    try:
        token = service.stored() if settings.value("client_id") else service.store.load()
    except BpError as exc:
        problems.append(exc.message)
    if token is not None:
        login = _account(settings, token, default=None)
        if problems:
            login["fresh"] = False
    accounts = [
        _account(settings, record, default=number == 0)
        for number, record in enumerate(service.store.accounts())
    ]
    audience = shown["audience"]["value"]  # None when not set (or invalid)
    found = secret_report(
        settings,
        token,
        choose_prompter(settings.value("noninteractive")),
        str(service.store.path),
        keyring_kind(settings, token),
        grant.unused_secrets,
    )
    return {
        "profile": {"value": profile.value, "source": profile.source},
        "config_file": str(settings.config_path),
        "config_file_exists": settings.config_path.exists(),
        "store": str(service.store.path),
        "env_token": bool(shown.get("token", {}).get("shown") == "(set)"),
        "grant": shown["grant"]["value"],
        "audience": audience,
        "login": login,
        "no_token": grant.no_token(),
        "accounts": accounts,
        "settings": shown,
        **whereabouts_report(found),
        "problems": list(dict.fromkeys(problems)),  # one bad token URL breaks hosts too
    }


def _account(settings: Settings, token: StoredToken, default: bool | None) -> dict[str, Any]:
    """One account as ``status`` shows it; ``username`` is the name it logged in with."""
    item: dict[str, Any] = {
        "user": describe_user(token),
        "username": token.account,
        "expires_at": token.expires_at,
        "expires": f"{format_time(token.expires_at)} ({relative(token.expires_at)})",
        "fresh": token.fresh(settings.value("refresh_margin")),
        "refresh_token": token.has_refresh_token,
    }
    if default is not None:
        item["default"] = default
    return item
