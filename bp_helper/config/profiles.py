"""Which profile, if any, serves a host: the protocol front-ends and adapters ask here."""

from __future__ import annotations

from collections.abc import Mapping

from bp_helper import log
from bp_helper.config.hosts import bound_form, is_bound, unbound
from bp_helper.config.settings import Settings
from bp_helper.errors import BpError
from bp_helper.lean import TYPE_CHECKING

ENV_TOKEN = "BIOPRODICT_TOKEN"

if TYPE_CHECKING:
    from typing import Any

# The settings that say which hosts a profile is bound to (see bp_helper.config.hosts).
HOST_SETTINGS = ("hosts", "token_url", "grant")


def select_profile(
    scheme: str,
    netloc: str,
    username: str | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings | None:
    """The settings of the profile bound to ``netloc``, or ``None`` when none is.

    An explicit profile (flag or ``BIOPRODICT_PROFILE``) is the only candidate, and its
    configuration errors are raised. Otherwise every profile of the config file (and
    ``default``) is, a broken one is skipped, and a ``username`` picks between profiles bound
    to the same host. Ties go to ``default``, then to the first by name.
    """
    asked = Settings(flags, environ)
    explicit = asked.resolve("profile").source != "default"
    matches: list[Settings] = []
    for settings in candidate_profiles(flags, environ, (scheme, netloc)):
        try:
            if not is_bound(settings, scheme, netloc):
                continue
        except BpError as exc:
            if explicit:
                raise
            log.debug(f"profile {settings.flags['profile']!r} skipped: {exc.message}")
            continue
        matches.append(settings)
    if username and len(matches) > 1:
        named = [s for s in matches if _serves(s, username)]
        matches = named or matches
    if not matches:
        log.debug(unbound(f"{scheme}://{netloc}", asked.profile if explicit else None))
        return None
    return matches[0]


def candidate_profiles(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    serving: tuple[str, str] | None = None,
) -> list[Settings]:
    """The explicit profile alone, or else ``default`` and every profile of the config file.

    With ``serving`` (a scheme and ``host[:port]``), and unless a flag or the environment sets
    the hosts or the token URL of every profile, only the profiles that the config file's
    host index binds to that host, and those it cannot tell about (an invalid value, whose
    error the caller sees when it resolves them): the others cannot match, and resolving
    them would make every request cost more with every profile in the file.

    ``BIOPRODICT_TOKEN`` serves the explicit profile or ``default`` only: the other profiles
    a host leads to get an environment without it (so they use their own tokens).
    """
    base = Settings(flags, environ)
    explicit = base.resolve("profile").source != "default"
    names = [base.profile] if explicit else ["default", *base.profile_names()]
    if serving and not explicit and not any(map(base.given_outside_config, HOST_SETTINGS)):
        wanted = bound_form(*serving)
        parsed = base.parsed_config
        maybe = {*parsed.hosts.get(wanted or "", ()), *parsed.unsure} if wanted else set()
        names = [name for name in names if name in maybe]
    found = [base.for_profile(name) for name in dict.fromkeys(names)]
    if explicit or ENV_TOKEN not in base.environ:
        return found
    without = {name: value for name, value in base.environ.items() if name != ENV_TOKEN}
    return [s if s.profile == "default" else _with_environ(s, without) for s in found]


def _with_environ(settings: Settings, environ: Mapping[str, str]) -> Settings:
    other = Settings(settings.flags, environ)
    if "config" in settings.__dict__:  # the parsed config file does not depend on it
        other.__dict__["config"] = settings.__dict__["config"]
    return other


def _serves(settings: Settings, username: str) -> bool:
    """The profile's configured username is ``username``, or it has an account by that name."""
    configured: str | None = settings.value("username")
    if configured:
        return configured == username
    from bp_helper.engine.service import TokenService

    return TokenService(settings).store.load(username) is not None
