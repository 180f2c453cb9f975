"""Settings: where each value comes from, decided in one place.

:meth:`Settings.resolve` is the one resolver. For every setting it takes, in order:

1. the command-line flag, if the setting has one and it was given;
2. the environment variable (``BIOPRODICT_*``, or requests' CA bundle variables);
3. the key in ``[profiles.<profile>]`` of the TOML config file;
4. the default.

A row marked ``config_first`` (``ca_bundle``: one profile's choice over what a machine sets
for every program) takes 3 before 2.

Each answer is a :class:`Resolved` that carries the value and a human-readable source
(``flag --token-url``, ``env BIOPRODICT_TOKEN_URL``, ``config ~/.config/bp-helper/config.toml
[profiles.default]``, ``default``), which ``bp-helper status`` and ``--debug`` show.
Secrets (client secret, password, two-factor code) are resolved by :mod:`bp_helper.secrets.sources`
from the same sources; this module only says where they would come from. The config file is
parsed only when it changed since the last run (see :mod:`bp_helper.config.cache`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from bp_helper import log
from bp_helper.basics import MAX_CONFIG, config_file_problem, raw_setting
from bp_helper.basics import read_capped as read_capped  # shared with the cached path
from bp_helper.config.cache import ConfigCache, ParsedConfig, index
from bp_helper.config.paths import user_state_dir
from bp_helper.config.table import BY_NAME, CONFIG_KEYS, SECRET_ENVIRONMENT
from bp_helper.errors import ConfigError


def read_config_file(path: Path) -> tuple[bytes, os.stat_result]:
    """The config file's content and status (``FileNotFoundError`` if there is none).

    A :class:`ConfigError` when it is not a regular file of at most ``MAX_CONFIG`` bytes, or
    when someone else may have written it or its folder: its ``*_command`` settings are run.
    """
    try:
        raw = read_capped(path, MAX_CONFIG)
        st = os.stat(path)  # a file replaced in between has another checksum
        problem = config_file_problem(str(path), st)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if raw is None:
        raise ConfigError(
            f"config file {path} is not a regular file of at most {MAX_CONFIG // 1024} KiB; "
            "point BIOPRODICT_CONFIG at the config file"
        )
    if problem:
        raise ConfigError(f"config file not read: {problem}")
    return raw, st


class Resolved(NamedTuple):
    """A setting's value and where it came from (``None`` value: not set anywhere)."""

    name: str
    value: Any
    source: str

    def shown(self) -> str:
        """The value as ``status`` may print it: secrets are never shown."""
        if self.value is None:
            return "(not set)"
        if BY_NAME[self.name].secret:
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
        return self.with_flags(profile=name)

    def with_flags(self, **flags: Any) -> Settings:
        """The same environment, with ``flags`` (not ``config``) over these, sharing the parsed
        config file."""
        other = Settings({**self.flags, **flags}, self.environ)
        if "parsed_config" in self.__dict__:  # the config file does not depend on the flags
            other.__dict__["parsed_config"] = self.__dict__["parsed_config"]
        return other

    def given_outside_config(self, name: str) -> bool:
        """Is setting ``name`` given by a flag or an environment variable (as :meth:`resolve`
        takes them), so that no profile's config key decides it?"""
        setting = BY_NAME[name]
        if setting.flag and name in self.flags:
            return True
        return any(
            self.environ.get(env) or (setting.secret and env in self.environ) for env in setting.env
        )

    # -- the resolver -------------------------------------------------------------------

    def resolve(self, name: str) -> Resolved:
        """Flag, then environment, then the profile's config key, then the default."""
        if name in self._cache:
            return self._cache[name]
        setting = BY_NAME[name]
        s = setting
        found = raw_setting(
            s.flag, s.env, s.secret, s.config_first, name, self.flags, self.environ,
            lambda: self._from_config(name),
        )  # fmt: skip
        if found is not None:
            result = Resolved(name, *found)
        else:
            default = setting.default(self) if callable(setting.default) else setting.default
            result = Resolved(name, default, "default")
        if result.value is not None:
            where = f"{name} (from {result.source})"
            result = Resolved(name, setting.convert(result.value, where), result.source)
        self._cache[name] = result
        if name not in ("profile", "config"):
            log.debug(f"setting {name} = {result.shown()} (from {result.source})")
        return result

    def _from_config(self, name: str) -> tuple[Any, str] | None:
        setting = BY_NAME[name]
        if not setting.key or setting.key not in self.profile_table:
            return None
        return self._table_value(setting.key, setting.secret), self.profile_source

    # -- the config file ----------------------------------------------------------------

    @property
    def profile(self) -> str:
        return str(self.resolve("profile").value)

    @property
    def config_path(self) -> Path:
        return Path(self.resolve("config").value).expanduser()

    @property
    def config(self) -> dict[str, Any]:
        """The parsed config file's ``profiles`` (none when the default file does not exist)."""
        return {"profiles": self.parsed_config.profiles}

    @cached_property
    def parsed_config(self) -> ParsedConfig:
        """The config file's profiles and host index, parsed only when its content changed."""
        return self._read_config(use_cache=True)

    def _read_config(self, use_cache: bool) -> ParsedConfig:
        path = self.config_path
        try:
            raw, st = read_config_file(path)
        except FileNotFoundError:
            if self.resolve("config").source != "default":
                raise ConfigError(f"config file {path} does not exist") from None
            return index({})
        if not use_cache:
            return index(_parse_toml(path, raw))
        cache = ConfigCache(self.store_dir, path)
        identity = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        parsed = cache.load(raw, identity)
        if parsed is None:
            parsed = index(_parse_toml(path, raw))
            cache.save(raw, identity, parsed)
        return parsed

    def _table_value(self, key: str, secret: bool) -> Any:
        """The profile table's value of ``key``; the cache withholds secrets (parse for them)."""
        if secret and self.parsed_config.withheld:
            self.__dict__["parsed_config"] = self._read_config(use_cache=False)
            self.__dict__.pop("profile_table", None)
        return self.profile_table[key]

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
        for key in sorted(set(table) - CONFIG_KEYS):
            log.warn(f"unknown key {key!r} in [profiles.{name}] of {self.config_path}: ignored")
        return table

    @property
    def profile_source(self) -> str:
        return f"config {self.config_path} [profiles.{self.profile}]"

    def profile_names(self) -> list[str]:
        return sorted(self.config.get("profiles", {}))

    # -- values ---------------------------------------------------------------------------

    def value(self, name: str) -> Any:
        """The value of setting ``name`` (see :data:`bp_helper.config.table.SETTINGS`)."""
        return self.resolve(name).value

    def is_set(self, name: str) -> bool:
        """Whether setting ``name`` has a value from any source, without reading a secret (the
        config cache withholds secrets' values, and reading one would parse the file again)."""
        setting = BY_NAME[name]
        if setting.flag and name in self.flags:
            return True
        if any(
            env in self.environ and (self.environ[env] or setting.secret) for env in setting.env
        ):
            return True
        return bool(setting.key and setting.key in self.profile_table) or (
            setting.default is not None
        )

    @property
    def client_id(self) -> str:
        self.require_client()
        return str(self.value("client_id"))

    def require_client(self) -> None:
        """Raise one error naming every missing client setting, always in the same order."""
        missing = []
        if not self.value("client_id"):
            missing.append(("client id", "client_id ID", "BIOPRODICT_CLIENT_ID"))
        if not self.is_set("client_secret") and not self.is_set("client_secret_command"):
            missing.append(("client secret", "client_secret", "BIOPRODICT_CLIENT_SECRET"))
        if missing:
            flag = "" if self.profile == "default" else f" --profile {self.profile}"
            raise ConfigError(
                f"not configured: {' and '.join(m[0] for m in missing)} of profile "
                f"{self.profile!r} (Bio-Prodict provides them): run "
                + " and ".join(f"`bp-helper{flag} config set {m[1]}`" for m in missing)
                + f", or set {' and '.join(m[2] for m in missing)}"
            )

    @property
    def store_dir(self) -> Path:
        return user_state_dir()


def _likely_mistakes(data: dict[str, Any], path: Path) -> None:
    """Name the usual slips (``[profile.x]``, keys outside any table) instead of ignoring them."""
    for name, value in data.items():
        if name == "profiles":
            continue
        if name == "profile" and isinstance(value, dict):
            first = next(iter(value), "default")
            raise ConfigError(
                f"config file {path}: [profile.{first}] should be [profiles.{first}] (plural)"
            )
        if name in CONFIG_KEYS:
            raise ConfigError(
                f"config file {path}: {name} is outside any table; put it under "
                "[profiles.default] (or another [profiles.NAME])"
            )


def _parse_toml(path: Path, raw: bytes) -> dict[str, dict[str, Any]]:
    """The ``[profiles.NAME]`` tables of the config file's ``raw`` content, or a
    :class:`ConfigError`."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except RecursionError:  # absurdly deep nesting
        raise ConfigError(f"config file {path} is not valid TOML (nested too deeply)") from None
    _likely_mistakes(data, path)
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(t, dict) for t in profiles.values()):
        raise ConfigError(f"config file {path}: [profiles] must hold [profiles.NAME] tables")
    return profiles
