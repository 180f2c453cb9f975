"""Which profiles are bound to a host, from the settings alone (the route chooses among them)."""

from __future__ import annotations

from collections.abc import Mapping

from bp_helper import log
from bp_helper.config.hosts import bound_form, is_bound
from bp_helper.config.settings import Settings
from bp_helper.config.table import HOST_SETTINGS
from bp_helper.errors import BpError

ENV_TOKEN = "BIOPRODICT_TOKEN"


def bound_profiles(settings: Settings, scheme: str, netloc: str) -> list[Settings]:
    """The settings of every profile bound to ``scheme://netloc``, best first.

    ``settings`` holds the invocation's flags and environment. An explicit profile (flag or
    ``BIOPRODICT_PROFILE``) is the only candidate, and its configuration errors are raised.
    Otherwise every profile of the config file (and ``default``) is, a broken one is
    skipped; ``default`` comes first, then the others by name. Which of them serves a
    request is the route's to say (:mod:`bp_helper.route`).
    """
    explicit = settings.resolve("profile").source != "default"
    matches: list[Settings] = []
    for candidate in candidate_profiles(settings, (scheme, netloc)):
        try:
            if not is_bound(candidate, scheme, netloc):
                continue
        except BpError as exc:
            if explicit:
                raise
            log.debug(f"profile {candidate.flags['profile']!r} skipped: {exc.message}")
            continue
        matches.append(candidate)
    return matches


def candidate_profiles(base: Settings, serving: tuple[str, str] | None = None) -> list[Settings]:
    """The explicit profile alone, or else ``default`` and every profile of the config file.

    With ``serving`` (a scheme and ``host[:port]``), and unless a flag or the environment sets
    the hosts or the token URL of every profile, only the profiles that the config file's
    host index binds to that host, and those it cannot tell about (an invalid value, whose
    error the caller sees when it resolves them): the others cannot match, and resolving
    them would make every request cost more with every profile in the file.

    ``BIOPRODICT_TOKEN`` serves the explicit profile or ``default`` only: the other profiles
    a host leads to get an environment without it (so they use their own tokens).
    """
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
    if "parsed_config" in settings.__dict__:  # the parsed config file does not depend on it
        other.__dict__["parsed_config"] = settings.__dict__["parsed_config"]
    return other
