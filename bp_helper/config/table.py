"""Every setting, one row each: the table the resolver, ``status``, ``--debug``, the command-line
options, the helper executables' options and the settings reference in ``docs/`` derive from.

Adding a setting is one row here plus the code that uses it. A row says where the value may
come from (flag, environment variables, config key), its default (a value, or a function of
the :class:`~bp_helper.config.settings.Settings` for defaults that depend on other settings),
how a raw value is checked and converted, and whether it is a secret (never shown).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from bp_helper.basics import seconds_in_range, valid_profile_name
from bp_helper.config.hosts import check_token_url, netloc_of, normalize_host
from bp_helper.config.paths import user_config_dir
from bp_helper.errors import ConfigError

if TYPE_CHECKING:  # settings imports this module
    from bp_helper.config.settings import Settings

Convert = Callable[[Any, str], Any]

DEFAULT_TOKEN_URL = "https://api.bio-prodict.nl/oauth/oauth/token"
PASSWORD = "password"
CLIENT_CREDENTIALS = "client_credentials"
# The values of the grant setting; each names its module in bp_helper/engine/grants/.
GRANTS = (PASSWORD, CLIENT_CREDENTIALS)
# The settings that say which hosts a profile is bound to (see bp_helper.config.hosts).
HOST_SETTINGS = ("hosts", "token_url", "grant")


# -- conversions: (raw value, "name (from source)") -> value, or ConfigError -------------------


def text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string")
    return value


def optional_text(value: Any, where: str) -> str | None:
    """A string; an empty one counts as not set."""
    return text(value, where) or None


def seconds(limit_zero: bool) -> Convert:
    def convert(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f"{where} must be a number of seconds")
        try:
            number = float(value)
        except ValueError as exc:
            raise ConfigError(f"{where} must be a number of seconds") from exc
        if not seconds_in_range(number, limit_zero):
            raise ConfigError(f"{where} must be between 0 and 86400 seconds")
        return number

    return convert


def switch(value: Any, where: str) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


def host_list(value: Any, where: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where} must be a list of host[:port] strings")
    hosts = [normalize_host(i) for i in items if i.strip()]
    if not hosts:
        raise ConfigError(f"{where} names no host")
    return hosts


def command(value: Any, where: str) -> str | list[str]:
    if isinstance(value, str) and value.strip():
        try:
            shlex.split(value)
        except ValueError as exc:  # "No closing quotation", "No escaped character"
            raise ConfigError(
                f"{where} cannot be split into a command ({str(exc).lower()}); "
                'check its quotes, or give a list: ["program", "argument"]'
            ) from None
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise ConfigError(f"{where} must be a command string or a list of strings")


def token_url(value: Any, where: str) -> str:
    return check_token_url(text(value, where), where)


def one_of(*choices: str) -> Convert:
    def convert(value: Any, where: str) -> str:
        if text(value, where) not in choices:
            allowed = " or ".join(f'"{c}"' for c in choices)
            raise ConfigError(f"{where} must be {allowed}, not {value!r}")
        return str(value)

    return convert


def profile_name(value: Any, where: str) -> str:
    if not valid_profile_name(text(value, where)):
        raise ConfigError(f"invalid profile name {value!r}: use letters, digits, '.', '_' and '-'")
    return str(value)


# -- defaults that depend on other settings -----------------------------------------------------


def _config_file(settings: Settings) -> str:
    return str(user_config_dir() / "config.toml")


def token_url_serves_api(grant: str) -> bool:
    """Is the token URL's host an API host too, for a profile of ``grant`` (the default of
    ``hosts``)? Not for client credentials: the token URL is an Auth0 tenant, and the API
    is another host, so guessing would be wrong."""
    return grant != CLIENT_CREDENTIALS


def hosts_of_table(table: dict[str, Any]) -> list[str]:
    """The hosts a profile's ``[profiles.NAME]`` table alone binds it to (for the config
    cache's host index); a :class:`ConfigError` when the table cannot say."""
    if "hosts" in table:
        return host_list(table["hosts"], "hosts")
    grant = table.get("grant", PASSWORD)
    if grant not in GRANTS or not token_url_serves_api(grant):
        raise ConfigError(f"a profile of grant {grant!r} names its hosts")
    return [netloc_of(token_url(table.get("token_url", DEFAULT_TOKEN_URL), "token_url"))]


def _token_url_host(settings: Settings) -> list[str]:
    grant = settings.value("grant")
    if not token_url_serves_api(grant):
        raise ConfigError(
            f"profile {settings.profile!r} uses the {grant} grant, so its API hosts "
            "must be named: set BIOPRODICT_HOSTS, or hosts in "
            f"[profiles.{settings.profile}] of {settings.config_path}"
        )
    return [netloc_of(settings.value("token_url"))]


QUICK_TABLE_HEAD = '''"""The cached path's part of the settings table (bp_helper.quick), as data.

Generated from bp_helper/config/table.py, which is the one place to change (a test holds
the two equal): ``python -m bp_helper.config.table > bp_helper/config/quick_table.py``,
then ``ruff format`` it.

SETTINGS: name -> (flag, environment variables, config key, default, secret, config_first);
the default is None where the table computes it (the names in COMPUTED).
"""
'''


class Setting(NamedTuple):
    """One setting: where it may come from, its default, its check, and how docs name it."""

    name: str
    label: str  # what the docs and --help call it
    flag: str | None = None
    env: tuple[str, ...] = ()
    key: str | None = None  # in [profiles.NAME] of the config file
    default: Any = None  # a value, or a function of the Settings
    convert: Convert = text
    secret: bool = False
    flag_of: str | None = None  # the one command that takes the flag (None: every command)
    helpers: bool = False  # the git/docker helper executables take the flag too
    default_doc: str = ""  # the default as the docs say it, when not the value itself
    metavar: str | None = None  # the flag's value in --help
    # The profile's key wins over the environment variables: one profile's choice over what
    # a machine sets for every program (ca_bundle; see bp_helper.config.tls).
    config_first: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("profile", "profile", "--profile", ("BIOPRODICT_PROFILE",), None, "default",
            profile_name, helpers=True, metavar="NAME"),
    Setting("config", "config file", "--config", ("BIOPRODICT_CONFIG",), None, _config_file,
            helpers=True, default_doc="`<user config dir>/bp-helper/config.toml`", metavar="FILE"),
    Setting("token_url", "token URL", "--token-url", ("BIOPRODICT_TOKEN_URL",), "token_url",
            DEFAULT_TOKEN_URL, token_url, metavar="URL"),
    Setting("hosts", "hosts the token may go to", "--hosts", ("BIOPRODICT_HOSTS",), "hosts",
            _token_url_host, host_list, metavar="HOST[:PORT],...",
            default_doc="the token URL's host[:port]; none with `client_credentials`"),
    Setting("client_id", "client id", "--client-id", ("BIOPRODICT_CLIENT_ID",), "client_id",
            default_doc="none: an error says how to set it", metavar="ID"),
    Setting("client_secret", "client secret", None, ("BIOPRODICT_CLIENT_SECRET",),
            "client_secret", secret=True, default_doc='none (`""` is a valid secret)'),
    Setting("client_secret_command", "command printing the client secret", key=
            "client_secret_command", convert=command),
    Setting("username", "username", "--username", ("BIOPRODICT_USERNAME",), "username",
            convert=optional_text, flag_of="login", default_doc="the last login's, else asked",
            metavar="NAME"),
    Setting("password", "password", None, ("BIOPRODICT_PASSWORD",), secret=True,
            default_doc="the OS keyring after `login --remember-password`, else asked"),
    Setting("password_command", "command printing the password", key="password_command",
            convert=command),
    Setting("twofactor", "two-factor code", "--twofactor", ("BIOPRODICT_TWOFACTOR",),
            secret=True, flag_of="login", default_doc="asked on the terminal when needed",
            metavar="CODE"),
    Setting("twofactor_command", "command printing the two-factor code",
            key="twofactor_command", convert=command),
    Setting("token", "ready-made access token", None, ("BIOPRODICT_TOKEN",), secret=True),
    Setting("ca_bundle", "CA bundle", None, ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"),
            "ca_bundle", default_doc="the system store; the config key wins over the variables",
            config_first=True),
    Setting("refresh_margin", "refresh margin (s)", key="refresh_margin", default=300.0,
            convert=seconds(limit_zero=True), default_doc="300 (at most half the lifetime)"),
    Setting("timeout", "network timeout (s)", key="timeout", default=15.0,
            convert=seconds(limit_zero=False)),
    Setting("command_timeout", "secret command timeout (s)", key="command_timeout",
            default=30.0, convert=seconds(limit_zero=False)),
    Setting("keyring_timeout", "keyring call timeout (s)", key="keyring_timeout", default=15.0,
            convert=seconds(limit_zero=False)),
    Setting("refresh_token_storage", "where the refresh token lives",
            key="refresh_token_storage", default="file", convert=one_of("file", "keyring")),
    Setting("allow_plaintext_keyring", "let a plaintext keyring keep secrets",
            "--allow-plaintext-keyring", ("BIOPRODICT_ALLOW_PLAINTEXT_KEYRING",),
            "allow_plaintext_keyring", default=False, convert=switch, flag_of="login",
            default_doc="false: a backend that writes secrets unencrypted gets none"),
    Setting("noninteractive", "never prompt", "--non-interactive",
            ("BIOPRODICT_NONINTERACTIVE",), default=False, convert=switch,
            default_doc="prompt only on a terminal"),
    Setting("grant", "grant", "--grant", ("BIOPRODICT_GRANT",), "grant", PASSWORD,
            one_of(*GRANTS), metavar="GRANT"),
    Setting("audience", "audience (client_credentials)", "--audience",
            ("BIOPRODICT_AUDIENCE",), "audience", convert=optional_text,
            default_doc="none: required with `client_credentials`", metavar="AUDIENCE"),
)  # fmt: skip
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
CONFIG_KEYS = frozenset(s.key for s in SETTINGS if s.key)
SECRET_ENVIRONMENT = frozenset(
    env for s in SETTINGS if s.secret for env in s.env if env.startswith("BIOPRODICT_")
)


def markdown_table() -> str:
    """The settings reference table of ``docs/settings.md``, derived from :data:`SETTINGS`."""

    def code(*items: str | None) -> str:
        return ", ".join(f"`{i}`" for i in items if i)

    rows = [
        "| setting | flag | environment | config key | default |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        flag = code(s.flag) if s.flag_of is None else f"`{s.flag_of} {s.flag}`"
        if s.default_doc:
            default = s.default_doc
        elif s.default is None or callable(s.default):
            default = "none"
        else:
            value = s.default
            default = code(
                str(value).lower()
                if isinstance(value, bool)
                else f"{value:g}"
                if isinstance(value, float)
                else str(value)
            )
        rows.append(f"| {s.label} | {flag} | {code(*s.env)} | {code(s.key)} | {default} |")
    return "\n".join(rows) + "\n"


def quick_table_data() -> dict[str, Any]:
    """What the cached path needs of :data:`SETTINGS`, as plain data: the content of
    :mod:`bp_helper.config.quick_table` (a test holds the two equal)."""
    return {
        "SETTINGS": {
            s.name: (
                s.flag,
                s.env,
                s.key,
                None if callable(s.default) else s.default,
                s.secret,
                s.config_first,
            )
            for s in SETTINGS
        },
        "COMPUTED": frozenset(s.name for s in SETTINGS if callable(s.default)),
        "HELPER_FLAGS": {s.flag: s.name for s in SETTINGS if s.helpers and s.flag},
        "CONFIG_KEYS": CONFIG_KEYS,
        "HOST_SETTINGS": HOST_SETTINGS,
        "PASSWORD": PASSWORD,
    }


if __name__ == "__main__":  # the generator: see bp_helper/config/quick_table.py
    print(QUICK_TABLE_HEAD)
    for name, value in quick_table_data().items():
        if isinstance(value, frozenset):
            print(f"{name} = frozenset({sorted(value)!r})")
        elif isinstance(value, dict) and name == "SETTINGS":
            print(f"{name} = {{")
            print("".join(f"    {k!r}: {v!r},\n" for k, v in value.items()), end="}\n")
        else:
            print(f"{name} = {value!r}")
