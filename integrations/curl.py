"""curl: ``bp-helper curl-config`` (a ``curl -K`` config) and ``bp-helper curl ARGS...``.

``curl-config`` writes ``header = "Authorization: Bearer <token>"``. curl sends a config's
header to every URL of that command, but not across redirects to other hosts (it drops a
custom ``Authorization`` header when a redirect leaves the host, unless
``--location-trusted``).

``bp-helper curl ARGS...`` checks that every URL in ARGS is bound to the profile, then
replaces itself with the real curl, handing it the config through an inherited pipe
(``-K /dev/fd/N``): the token is never in any process's argv or environment, and curl's
stdin, stdout, stderr and exit status are the user's. curl gets ``-q`` first, so it reads no
``~/.curlrc`` (whose ``url`` or ``location-trusted`` lines bp-helper could not check), and
options that would send a bound URL's request somewhere else (``--connect-to``,
``--resolve``, ``--doh-url``, Unix sockets, an Alt-Svc cache, a proxy for plain http, URLs
built from ``--variable``) are refused, by their names in the installed curl's option table.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bp_helper import log
from bp_helper.config.hosts import is_bound, netloc_of, refusal
from bp_helper.config.settings import Settings, without_secrets
from bp_helper.config.tls import trust
from bp_helper.errors import BpError, ConfigError, HostNotBound, UsageError
from bp_helper.route import Route, profile_route, route
from bp_helper.times import format_time
from bp_helper.tokens import StoredToken

from .output import deliver

# `curl --help all` lines: " -d, --data <data>   HTTP POST data", "     --compressed   Request ..."
_HELP_LINE = re.compile(r"^\s*(?:-(\S), )?--([A-Za-z0-9][A-Za-z0-9.-]*)( <[^>]*>)?")
URL_OPTIONS = frozenset({"url"})
_ELSEWHERE = "it sends the request, and the token, to another address than the URL names"
# Options that would let the token go where bp-helper cannot check: refused.
REFUSED_OPTIONS = {
    "config": "bp-helper cannot check the URLs in another config file; give them as arguments",
    "location-trusted": "it sends the token to every host a redirect leads to; use --location",
    "connect-to": _ELSEWHERE,
    "resolve": _ELSEWHERE,
    "doh-url": "it resolves the URL's host with a server bp-helper cannot vouch for",
    "unix-socket": _ELSEWHERE,
    "abstract-unix-socket": _ELSEWHERE,
    "alt-svc": "its cache file can send the request to another host",
    "variable": "bp-helper cannot check URLs or options built from variables",
}
# Proxies see a plain-http request, token included: refused for the loopback http URLs.
PROXY_OPTIONS = frozenset(
    {"proxy", "preproxy", "proxy1.0", "socks4", "socks4a", "socks5", "socks5-hostname"}
)
PROXY_ENVIRONMENT = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")


def config_text(token: StoredToken, settings: Settings) -> str:
    """A curl config that sends ``token`` as a Bearer header."""
    value = token.access_token
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise BpError("the access token contains control characters: refusing to use it")
    hosts = ", ".join(settings.value("hosts"))
    text = (
        f"# curl config from `bp-helper curl-config` (profile {settings.profile!r}, "
        f"user {token.username!r}); use it with `curl -K FILE URL...`.\n"
        f"# The token expires {format_time(token.expires_at)}: make a new config after that.\n"
        f"# Bound hosts: {hosts}. curl sends this header to every URL of\n"
        "# the command (only give it those hosts), but not across redirects to other hosts.\n"
        f'header = "Authorization: Bearer {_quoted(value)}"\n'
    )
    trusted = trust(settings)  # what the token requests trust, curl trusts too
    if trusted.path is None:
        return text
    if any(ord(c) < 0x20 or c == "\x7f" for c in trusted.path):
        raise ConfigError(
            f"the CA bundle's path (from {trusted.source}) holds control characters, which a "
            "curl config cannot carry: point ca_bundle at a path without them"
        )
    where = "the profile's ca_bundle" if trusted.from_profile else trusted.source
    return (
        f"{text}# The CA bundle the token requests trust ({where}):\n"
        f'cacert = "{_quoted(trusted.path)}"\n'
    )


def _quoted(value: str) -> str:
    """``value`` inside double quotes of a curl config."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def cmd_curl_config(args: argparse.Namespace, settings: Settings) -> int:
    token = profile_route(settings).service().get()
    deliver(config_text(token, settings), args.output)
    return 0


@dataclass(frozen=True)
class CurlOptions:
    """The options of the installed curl: which take a value, and the short letters."""

    takes_value: dict[str, bool]  # long name -> takes a value
    short: dict[str, str]  # letter -> long name

    @classmethod
    def of(cls, curl: str) -> CurlOptions:
        for help_args in (["--help", "all"], ["--help"]):
            try:
                done = subprocess.run(
                    [curl, *help_args],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=False,
                    stdin=subprocess.DEVNULL,
                    env=curl_environment(),
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise BpError(f"cannot run {curl}: {exc}") from None
            takes_value: dict[str, bool] = {}
            short: dict[str, str] = {}
            for line in done.stdout.splitlines():
                match = _HELP_LINE.match(line)
                if match:
                    letter, name, value = match.groups()
                    takes_value[name] = value is not None
                    if letter:
                        short[letter] = name
            if "url" in takes_value and "config" in takes_value:
                return cls(takes_value, short)
        raise BpError(f"cannot read the option list of {curl} (`curl --help all`)")

    def long_name(self, word: str) -> str:
        """The option ``--word`` stands for, as curl reads it (``--no-X``, prefixes)."""
        if word.startswith("expand-"):  # --expand-OPTION (curl >= 8.3): a value from variables
            raise UsageError(f"bp-helper curl refuses --{word}: {REFUSED_OPTIONS['variable']}")
        if word in self.takes_value:
            return word
        rest = word.removeprefix("no-")  # --no-BOOL
        if rest != word and rest in self.takes_value:
            return rest
        candidates = [name for name in self.takes_value if name.startswith(word)]
        if len(candidates) == 1:
            return candidates[0]
        kind = "ambiguous" if candidates else "unknown"
        raise UsageError(f"{kind} curl option --{word} (bp-helper options go before `curl`)")


def urls_in(args: Sequence[str], options: CurlOptions, seen: set[str] | None = None) -> list[str]:
    """The URLs curl would fetch for ``args``: its positional arguments and ``--url`` values.

    ``seen`` collects the (long) names of the options given.
    """
    seen = set() if seen is None else seen
    urls: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            urls.extend(args[index:])
            break
        names: list[tuple[str, str | None]] = []  # (option, value attached to it)
        if arg.startswith("--"):
            names.append((options.long_name(arg[2:]), None))
        elif arg.startswith("-") and arg != "-":
            for pos, letter in enumerate(arg[1:], start=1):
                if letter not in options.short:
                    raise UsageError(f"unknown curl option -{letter} in {arg!r}")
                name = options.short[letter]
                if options.takes_value[name]:
                    names.append((name, arg[pos + 1 :] or None))
                    break
                names.append((name, None))
        else:
            urls.append(arg)
            continue
        for name, attached in names:
            seen.add(name)
            if name in REFUSED_OPTIONS:
                raise UsageError(f"bp-helper curl refuses --{name}: {REFUSED_OPTIONS[name]}")
            if not options.takes_value[name] or attached is not None:
                value = attached
            elif index < len(args):
                value = args[index]
                index += 1
            else:
                raise UsageError(f"curl option --{name} needs a value")
            if name in URL_OPTIONS and value is not None:
                if value.startswith("@"):  # curl >= 8.13 reads URLs from that file
                    raise UsageError(f"bp-helper curl refuses --{name} @FILE: give the URLs")
                urls.append(value)
    return urls


def bound_route(urls: Sequence[str], settings: Settings) -> Route:
    """The route of the first URL, whose profile every other URL is bound to; otherwise a
    refusal."""
    explicit = settings.profile if settings.resolve("profile").source != "default" else None
    chosen: Route | None = None
    for url in urls:
        scheme = urlsplit(url).scheme.lower()
        try:
            netloc = netloc_of(url) if "://" in url else ""
        except (BpError, ValueError):
            netloc = ""
        if not netloc or scheme not in ("https", "http"):
            raise HostNotBound(refusal(url))
        if chosen is None:
            chosen = route(settings, scheme, netloc)
            if chosen is None:
                raise HostNotBound(refusal(url, explicit))
        elif not is_bound(chosen.settings, scheme, netloc):
            raise HostNotBound(refusal(url, chosen.profile))
    assert chosen is not None
    return chosen


def curl_environment() -> dict[str, str]:
    """The environment curl runs with: ours, minus bp-helper's secret variables."""
    return without_secrets(os.environ)


def cmd_curl(args: argparse.Namespace, settings: Settings) -> int:
    curl_args: list[str] = list(args.curl_args)
    curl = shutil.which("curl")
    if curl is None:
        raise BpError("curl is not installed (or not on PATH)")
    given = 1 if curl_args[:1] in (["-q"], ["--disable"]) else 0
    rest = curl_args[given:]
    seen: set[str] = set()
    urls = urls_in(rest, CurlOptions.of(curl), seen)
    argv = [curl, "-q"]  # first, or curl reads ~/.curlrc, which bp-helper cannot check
    environment = curl_environment()
    if any(url.lower().startswith("http:") for url in urls):
        proxies = sorted(seen & PROXY_OPTIONS)
        if proxies:
            raise UsageError(
                f"bp-helper curl refuses --{proxies[0]} for a plain http URL: the proxy "
                "would see the token"
            )
        for name in PROXY_ENVIRONMENT:
            environment.pop(name, None)
    if urls:
        chosen = bound_route(urls, settings)
        config = config_text(chosen.service().get(), chosen.settings).encode()
        if not os.path.isdir("/dev/fd"):
            raise BpError("bp-helper curl needs /dev/fd to hand curl its config")
        read_end, write_end = os.pipe()  # the config (< 4 KiB) fits in the pipe's buffer
        try:
            view = memoryview(config)
            while view:
                view = view[os.write(write_end, view) :]
        finally:
            os.close(write_end)
        os.set_inheritable(read_end, True)
        argv += ["-K", f"/dev/fd/{read_end}"]
        log.debug(f"running curl with the token of profile {chosen.profile!r} on a pipe")
    else:
        log.debug("no URL in the curl arguments: running curl without a token")
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(curl, [*argv, *rest], environment)  # noqa: S606
    except OSError as exc:
        raise BpError(f"cannot run {curl}: {exc.strerror or exc}") from None
    return 1  # not reached: curl has replaced this process
