"""Which profile, if any, may send its token to a host.

A profile's token goes only to its bound hosts (``hosts``, default the token URL's
``host[:port]``), over https, or plain http to loopback hosts (tests, the sandbox). The
protocol front-ends and the Python/HTTPie adapters ask here before answering.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from . import log
from .errors import BpError
from .records import TYPE_CHECKING
from .settings import Settings, is_loopback, netloc_of, normalize_host

if TYPE_CHECKING:
    from typing import Any


def scheme_allowed(scheme: str, netloc: str) -> bool:
    """https anywhere; plain http only to a loopback host."""
    scheme = scheme.lower()
    if scheme == "https":
        return True
    host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
    return scheme == "http" and is_loopback(host.strip("[]"))


def is_bound(settings: Settings, scheme: str, netloc: str) -> bool:
    """May ``settings``' token go to ``scheme://netloc``?"""
    if not scheme_allowed(scheme, netloc):
        return False
    try:
        wanted = normalize_host(netloc)
    except BpError:
        return False
    if scheme.lower() == "http" and ":" not in wanted.rsplit("]", 1)[-1]:
        wanted = f"{wanted}:80"
    return wanted in settings.hosts


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
    explicit = Settings(flags, environ).resolve("profile").source != "default"
    matches: list[Settings] = []
    for settings in candidate_profiles(flags, environ):
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
        named = [s for s in matches if _username(s) == username]
        matches = named or matches
    if not matches:
        log.debug(f"no profile is bound to {scheme}://{netloc}")
        return None
    return matches[0]


def candidate_profiles(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> list[Settings]:
    """The explicit profile alone, or else ``default`` and every profile of the config file."""
    base = Settings(flags, environ)
    explicit = base.resolve("profile").source != "default"
    names = [base.profile] if explicit else ["default", *base.profile_names()]
    return [base.for_profile(name) for name in dict.fromkeys(names)]


def _username(settings: Settings) -> str | None:
    if settings.username:
        return settings.username
    from .tokens import TokenService

    token = TokenService(settings).store.load()
    return token.username if token else None


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, for messages: no credentials, path or query."""
    scheme = urlsplit(url).scheme.lower() or "(no scheme)"
    try:
        return f"{scheme}://{netloc_of(url)}"
    except (BpError, ValueError):
        return f"{scheme}://(invalid host)"


def refusal(url: str, profile: str | None = None) -> str:
    """Why a token may not go to ``url``, and what to do about it, in one line."""
    scheme = urlsplit(url).scheme.lower()
    if "://" not in url or scheme not in ("https", "http"):
        start = url.split("/", 1)[0].rsplit("@", 1)[-1][:60]  # no path, no credentials
        return f"refusing to send the Bio-Prodict token to {start!r}...: give a full https:// URL"
    where = f"refusing to send the Bio-Prodict token to {origin(url)}"
    if scheme == "http" and not is_loopback(urlsplit(url).hostname or ""):
        return f"{where}: plain http is only for this machine (loopback); use https"
    which = f"profile {profile!r} is" if profile else "no bp-helper profile is"
    return (
        f"{where}: {which} bound to that host; if it should be, add it to the profile's "
        "hosts (BIOPRODICT_HOSTS or `hosts` in the config file)"
    )
