"""Settings: where each value comes from, decided in one place.

:meth:`Settings.resolve` is the one resolver. For every setting it takes, in order:

1. the command-line flag, if the setting has one and it was given;
2. the environment variable (``BIOPRODICT_*``, or requests' CA bundle variables);
3. the key in ``[profiles.<profile>]`` of the TOML config file;
4. the default.

Each answer is a :class:`Resolved` that carries the value and a human-readable source
(``flag --token-url``, ``env BIOPRODICT_TOKEN_URL``, ``config ~/.config/bp-helper/config.toml
[profiles.default]``, ``default``), which ``bp-helper status`` and ``--debug`` show.
Secrets (client secret, password, two-factor code) are resolved by :mod:`bp_helper.secrets.sources`
from the same sources; this module only says where they would come from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

from bp_helper import log
from bp_helper.config.hosts import check_token_url, netloc_of, normalize_host
from bp_helper.config.paths import user_config_dir, user_state_dir
from bp_helper.errors import ConfigError
from bp_helper.lean import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

DEFAULT_TOKEN_URL = "https://api.bio-prodict.nl/oauth/oauth/token"
DEFAULT_REFRESH_MARGIN = 300.0
DEFAULT_TIMEOUT = 15.0
DEFAULT_COMMAND_TIMEOUT = 30.0
DEFAULT_KEYRING_TIMEOUT = 15.0
REFRESH_TOKEN_STORAGES = ("file", "keyring")
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# name -> (flag, environment variables, config key)
SOURCES: dict[str, tuple[str | None, tuple[str, ...], str | None]] = {
    "profile": ("--profile", ("BIOPRODICT_PROFILE",), None),
    "config": ("--config", ("BIOPRODICT_CONFIG",), None),
    "token_url": ("--token-url", ("BIOPRODICT_TOKEN_URL",), "token_url"),
    "hosts": ("--hosts", ("BIOPRODICT_HOSTS",), "hosts"),
    "client_id": ("--client-id", ("BIOPRODICT_CLIENT_ID",), "client_id"),
    "client_secret": (None, ("BIOPRODICT_CLIENT_SECRET",), "client_secret"),
    "client_secret_command": (None, (), "client_secret_command"),
    "username": ("--username", ("BIOPRODICT_USERNAME",), "username"),
    "password": (None, ("BIOPRODICT_PASSWORD",), None),
    "password_command": (None, (), "password_command"),
    "twofactor": ("--twofactor", ("BIOPRODICT_TWOFACTOR",), None),
    "twofactor_command": (None, (), "twofactor_command"),
    "token": (None, ("BIOPRODICT_TOKEN",), None),
    "ca_bundle": (None, ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), "ca_bundle"),
    "refresh_margin": (None, (), "refresh_margin"),
    "timeout": (None, (), "timeout"),
    "command_timeout": (None, (), "command_timeout"),
    "keyring_timeout": (None, (), "keyring_timeout"),
    "refresh_token_storage": (None, (), "refresh_token_storage"),
    "noninteractive": ("--non-interactive", ("BIOPRODICT_NONINTERACTIVE",), None),
}
SECONDS_SETTINGS = frozenset({"refresh_margin", "timeout", "command_timeout", "keyring_timeout"})
SECRET_SETTINGS = frozenset({"client_secret", "password", "twofactor", "token"})
SECRET_ENVIRONMENT = frozenset(
    env for name in SECRET_SETTINGS for env in SOURCES[name][1] if env.startswith("BIOPRODICT_")
)
CONFIG_KEYS = frozenset(key for _, _, key in SOURCES.values() if key)


class Resolved(Record):
    """A setting's value and where it came from (``None`` value: not set anywhere)."""

    name: str
    value: Any
    source: str

    def shown(self) -> str:
        """The value as ``status`` may print it: secrets are never shown."""
        if self.value is None:
            return "(not set)"
        if self.name in SECRET_SETTINGS:
            return "(set)" if self.value else "(empty)"
        if isinstance(self.value, list | tuple):
            return ", ".join(str(v) for v in self.value)
        return str(self.value)


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for a program bp-helper starts (curl, a ``*_command``): ``environ``
    without bp-helper's secret variables, which no other program needs."""
    return {name: value for name, value in environ.items() if name not in SECRET_ENVIRONMENT}


class Settings:
    """Every setting of one invocation, resolved on first use (see the module docstring)."""

    def __init__(
        self, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.flags = {k: v for k, v in (flags or {}).items() if v is not None}
        self.environ = os.environ if environ is None else environ
        self._cache: dict[str, Resolved] = {}

    def for_profile(self, name: str) -> Settings:
        """The same flags and environment for profile ``name``, sharing the parsed config."""
        other = Settings({**self.flags, "profile": name}, self.environ)
        if "config" in self.__dict__:  # the config file does not depend on the profile
            other.__dict__["config"] = self.__dict__["config"]
        return other

    # -- the resolver -------------------------------------------------------------------

    def resolve(self, name: str) -> Resolved:
        """Flag, then environment, then the profile's config key, then the default."""
        if name in self._cache:
            return self._cache[name]
        flag, envs, key = SOURCES[name]
        result: Resolved | None = None
        if flag and name in self.flags:
            result = Resolved(name, self.flags[name], f"flag {flag}")
        if result is None:
            for env in envs:
                if env in self.environ and (self.environ[env] or name in SECRET_SETTINGS):
                    result = Resolved(name, self.environ[env], f"env {env}")
                    break
        if result is None and key and key in self.profile_table:
            result = Resolved(name, self.profile_table[key], self.profile_source)
        if result is None:
            result = Resolved(name, self._default(name), "default")
        result = Resolved(name, self._convert(name, result.value, result.source), result.source)
        self._cache[name] = result
        if name not in ("profile", "config"):
            log.debug(f"setting {name} = {result.shown()} (from {result.source})")
        return result

    def _default(self, name: str) -> Any:
        if name == "profile":
            return "default"
        if name == "config":
            return str(user_config_dir() / "config.toml")
        if name == "token_url":
            return DEFAULT_TOKEN_URL
        if name == "hosts":
            return [netloc_of(self.token_url)]
        if name == "refresh_margin":
            return DEFAULT_REFRESH_MARGIN
        if name == "timeout":
            return DEFAULT_TIMEOUT
        if name == "command_timeout":
            return DEFAULT_COMMAND_TIMEOUT
        if name == "keyring_timeout":
            return DEFAULT_KEYRING_TIMEOUT
        if name == "refresh_token_storage":
            return "file"
        if name == "noninteractive":
            return False
        return None

    def _convert(self, name: str, value: Any, source: str) -> Any:
        if value is None:
            return None
        where = f"{name} (from {source})"
        if name in SECONDS_SETTINGS:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ConfigError(f"{where} must be a number of seconds")
            try:
                seconds = float(value)
            except ValueError as exc:
                raise ConfigError(f"{where} must be a number of seconds") from exc
            if not 0 <= seconds <= 86400 or (name != "refresh_margin" and seconds == 0):
                raise ConfigError(f"{where} must be between 0 and 86400 seconds")
            return seconds
        if name == "noninteractive":
            return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")
        if name == "hosts":
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ConfigError(f"{where} must be a list of host[:port] strings")
            hosts = [normalize_host(i) for i in items if i.strip()]
            if not hosts:
                raise ConfigError(f"{where} names no host")
            return hosts
        if name in ("client_secret_command", "password_command", "twofactor_command"):
            if isinstance(value, str) and value.strip():
                return value
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return value
            raise ConfigError(f"{where} must be a command string or a list of strings")
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string")
        if name == "token_url":
            return check_token_url(value, where)
        if name == "refresh_token_storage" and value not in REFRESH_TOKEN_STORAGES:
            raise ConfigError(f'{where} must be "file" or "keyring", not {value!r}')
        if name == "profile" and not PROFILE_NAME.fullmatch(value):
            raise ConfigError(
                f"invalid profile name {value!r}: use letters, digits, '.', '_' and '-'"
            )
        return value

    # -- the config file ----------------------------------------------------------------

    @property
    def profile(self) -> str:
        return str(self.resolve("profile").value)

    @property
    def config_path(self) -> Path:
        return Path(self.resolve("config").value).expanduser()

    @cached_property
    def config(self) -> dict[str, Any]:
        """The parsed config file; ``{}`` when the default file does not exist."""
        path = self.config_path
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            if self.resolve("config").source != "default":
                raise ConfigError(f"config file {path} does not exist") from None
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        import tomllib  # only when there is a config file to read

        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict) or not all(
            isinstance(t, dict) for t in profiles.values()
        ):
            raise ConfigError(f"config file {path}: [profiles] must hold [profiles.NAME] tables")
        return data

    @cached_property
    def profile_table(self) -> dict[str, Any]:
        profiles: dict[str, Any] = self.config.get("profiles", {})
        name = self.profile
        if name not in profiles:
            if name != "default":
                known = ", ".join(sorted(profiles)) or "none"
                raise ConfigError(
                    f"profile {name!r} is not in {self.config_path} (profiles: {known}); "
                    f"add a [profiles.{name}] table"
                )
            return {}
        table: dict[str, Any] = profiles[name]
        for key in sorted(set(table) - CONFIG_KEYS - EXTRA_CONFIG_KEYS):
            log.warn(f"unknown key {key!r} in [profiles.{name}] of {self.config_path}: ignored")
        return table

    @property
    def profile_source(self) -> str:
        return f"config {self.config_path} [profiles.{self.profile}]"

    def profile_names(self) -> list[str]:
        return sorted(self.config.get("profiles", {}))

    # -- convenient accessors -----------------------------------------------------------

    def value(self, name: str) -> Any:
        return self.resolve(name).value

    @property
    def token_url(self) -> str:
        return str(self.value("token_url"))

    @property
    def hosts(self) -> list[str]:
        return list(self.value("hosts"))

    @property
    def client_id(self) -> str:
        client_id = self.value("client_id")
        if not client_id:
            raise ConfigError(
                "no client id: set BIOPRODICT_CLIENT_ID, or client_id in "
                f"[profiles.{self.profile}] of {self.config_path} (Bio-Prodict provides it)"
            )
        return str(client_id)

    @property
    def username(self) -> str | None:
        value = self.value("username")
        return str(value) if value else None

    @property
    def timeout(self) -> float:
        return float(self.value("timeout"))

    @property
    def refresh_margin(self) -> float:
        return float(self.value("refresh_margin"))

    @property
    def command_timeout(self) -> float:
        return float(self.value("command_timeout"))

    @property
    def keyring_timeout(self) -> float:
        return float(self.value("keyring_timeout"))

    @property
    def refresh_token_in_keyring(self) -> bool:
        return bool(self.value("refresh_token_storage") == "keyring")

    @property
    def noninteractive(self) -> bool:
        return bool(self.value("noninteractive"))

    @property
    def ca_bundle(self) -> str | bool:
        """What requests' ``verify`` gets: a CA bundle path, or ``True`` for the system store."""
        value = self.value("ca_bundle")
        if not value:
            return True
        path = Path(value).expanduser()
        if not path.exists():
            raise ConfigError(
                f"CA bundle {path} (from {self.resolve('ca_bundle').source}) does not exist"
            )
        return str(path)

    @property
    def store_dir(self) -> Path:
        return user_state_dir()


# Keys other issues' features read from a profile; known here so they are not "unknown".
EXTRA_CONFIG_KEYS: frozenset[str] = frozenset()
