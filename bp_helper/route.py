"""The route: from where a request goes to the profile, account and settings that serve it.

Every front-end asks :func:`route`: git (``protocols/git.py``), docker
(``protocols/docker.py``), ``bp-helper token``, ``curl``, ``curl-config`` and ``netrc``, the
HTTPie plugin, ``BioProdictAuth`` and ``HttpxAuth`` (``library/bearer.py``) and the Python
API (``library/api.py``). It sits above the engine (it asks a profile's store which
accounts it holds) and below every front-end.

With a host, the candidates are the profiles bound to it (:func:`~bp_helper.config.profiles
.bound_profiles`: the explicit profile alone, else ``default`` first, then by name); a
``username`` picks between several, by the profile's configured username or an account its
store holds, and becomes the account asked for. Without a host, the profile is the
invocation's (flag, ``BIOPRODICT_PROFILE``, else ``default``). The account is the one the
profile's grant keeps its token under (:attr:`bp_helper.engine.grants.Grant.account`).
"""

from __future__ import annotations

from collections.abc import Callable

from bp_helper import log
from bp_helper.config.hosts import unbound
from bp_helper.config.profiles import bound_profiles
from bp_helper.config.settings import Settings
from bp_helper.engine.grants import grant_of
from bp_helper.engine.service import TokenService
from bp_helper.secrets.prompt import Prompter


class Route:
    """Where a request's token comes from: a profile's settings, with the account asked for
    (if any) as their ``username``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def profile(self) -> str:
        return self.settings.profile

    @property
    def account(self) -> str | None:
        """The store account whose token is handed out (``None``: the profile's default)."""
        return grant_of(self.settings).account

    def service(self, prompter: Callable[[], Prompter] | None = None) -> TokenService:
        """The profile's token service, asking whoever ``prompter`` gives (by default the
        terminal, unless the settings say never to ask)."""
        return TokenService(self.settings, prompter)


def route(
    settings: Settings,
    scheme: str | None = None,
    netloc: str | None = None,
    username: str | None = None,
) -> Route | None:
    """The route of a request to ``scheme://netloc`` (``host[:port]``) for ``username``;
    ``None`` when no profile is bound there. Without ``netloc``, the invocation's profile.

    ``settings`` holds the invocation's flags and environment (and its profile).
    """
    chosen = settings
    if netloc is not None:
        matches = bound_profiles(settings, scheme or "https", netloc)
        if username and len(matches) > 1:
            matches = [s for s in matches if _serves(s, username)] or matches
        if not matches:
            explicit = settings.resolve("profile").source != "default"
            log.debug(
                unbound(f"{scheme or 'https'}://{netloc}", settings.profile if explicit else None)
            )
            return None
        chosen = matches[0]
    if username is not None:
        chosen = chosen.with_flags(username=username)
    return Route(chosen)


def profile_route(settings: Settings) -> Route:
    """The route of a request that names no host: the invocation's profile."""
    found = route(settings)
    assert found is not None  # without a host there is always one
    return found


def _serves(settings: Settings, username: str) -> bool:
    """The profile's configured username is ``username``, or it has an account by that name."""
    configured: str | None = settings.value("username")
    if configured:
        return configured == username
    return TokenService(settings).store.load(username) is not None
