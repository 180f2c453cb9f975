"""Hosts and URLs: ``host[:port]`` as bp-helper compares them, and where a token may go.

A profile's token goes only to its bound hosts (``hosts``, default the token URL's
``host[:port]``), over https, or plain http to loopback hosts (tests, the sandbox). The
protocol front-ends and the Python/HTTPie adapters ask here before answering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bp_helper.errors import BpError, ConfigError

if TYPE_CHECKING:  # settings imports this module (through table)
    from bp_helper.config.settings import Settings


LOOPBACK_HOSTS = frozenset({"localhost", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    """``localhost``, ``::1`` or an IPv4 address in 127.0.0.0/8 (not any name starting 127.)."""
    if host.lower() in LOOPBACK_HOSTS:
        return True
    parts = host.split(".")
    return (
        len(parts) == 4
        and parts[0] == "127"
        and all(p.isdigit() and p.isascii() and len(p) <= 3 and int(p) <= 255 for p in parts)
    )


def netloc_of(url: str) -> str:
    """``host[:port]`` of an URL, lower case, without the scheme's default port."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 address
        raise ConfigError(f"invalid URL {url!r}: {exc}") from None
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"invalid port in URL {url!r}") from exc
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return host if port is None or port == default else f"{host}:{port}"


def normalize_host(value: str) -> str:
    """``host[:port]`` as given by a user or a protocol, normalised like :func:`netloc_of`."""
    value = value.strip()
    if not value or "/" in value or "@" in value or any(c.isspace() for c in value):
        raise ConfigError(f"invalid host {value!r}: use host or host:port")
    return netloc_of(f"https://{value}")


def check_token_url(url: str, where: str = "token_url") -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- a port that is no number, or out of range, raises
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 address
        raise ConfigError(
            f"{where}: the token URL cannot be read ({str(exc).lower()}); give an https:// URL"
        ) from None
    if parts.scheme != "https" or not parts.hostname:
        shown = url if "@" not in url else f"{parts.scheme}://..."
        raise ConfigError(f"{where}: the token URL must be an https:// URL, not {shown!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{where}: the token URL must not contain credentials")
    return url


def scheme_allowed(scheme: str, netloc: str) -> bool:
    """https anywhere; plain http only to a loopback host."""
    scheme = scheme.lower()
    if scheme == "https":
        return True
    host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
    return scheme == "http" and is_loopback(host.strip("[]"))


def is_bound(settings: Settings, scheme: str, netloc: str) -> bool:
    """May ``settings``' token go to ``scheme://netloc``?"""
    wanted = bound_form(scheme, netloc)
    return wanted is not None and wanted in settings.value("hosts")


def bound_form(scheme: str, netloc: str) -> str | None:
    """``netloc`` as a profile's ``hosts`` would list it, or ``None`` when no profile's token
    may go to ``scheme://netloc`` at all."""
    if not scheme_allowed(scheme, netloc):
        return None
    try:
        wanted = normalize_host(netloc)
    except BpError:
        return None
    if scheme.lower() == "http" and ":" not in wanted.rsplit("]", 1)[-1]:
        wanted = f"{wanted}:80"
    return wanted


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, for messages: no credentials, path or query."""
    scheme = urlsplit(url).scheme.lower() or "(no scheme)"
    try:
        return f"{scheme}://{netloc_of(url)}"
    except (BpError, ValueError):
        return f"{scheme}://(invalid host)"


def unbound(where: str, profile: str | None = None) -> str:
    """That no profile may send its token to ``where``: ``profile`` (when one was chosen, by
    a flag, ``BIOPRODICT_PROFILE`` or the caller) is not bound to it, else none is. The one
    wording of it, for refusals and ``--debug`` lines alike."""
    if profile:
        return f"profile {profile!r} is not bound to {where}"
    return f"no bp-helper profile is bound to {where}"


def refusal(url: str, profile: str | None = None) -> str:
    """Why a token may not go to ``url``, and what to do about it, in one line.

    ``profile``: the profile that was asked for, if one was; ``None`` when every profile was
    a candidate and none is bound to ``url``'s host.
    """
    scheme = urlsplit(url).scheme.lower()
    if "://" not in url or scheme not in ("https", "http"):
        start = url.split("/", 1)[0].rsplit("@", 1)[-1][:60]  # no path, no credentials
        return f"refusing to send the Bio-Prodict token to {start!r}...: give a full https:// URL"
    where = f"refusing to send the Bio-Prodict token to {origin(url)}"
    if scheme == "http" and not is_loopback(urlsplit(url).hostname or ""):
        return f"{where}: plain http is only for this machine (loopback); use https"
    if profile:
        flag = "" if profile == "default" else f" --profile {profile}"
        fix = f"list it in that profile's hosts (`bp-helper{flag} config set hosts HOST,...`)"
    else:
        fix = "add it to the hosts of a profile (BIOPRODICT_HOSTS or `hosts` in the config file)"
    return f"{where}: {unbound('that host', profile)}; if it should be, {fix}"
