"""The HTTPie auth plugin: ``http --auth-type=bioprodict URL`` (``-a USERNAME`` is optional).

HTTPie imports every installed auth plugin each time it starts, whatever auth the command
uses. So this module imports only what HTTPie has loaded by then (its base class,
requests); bp-helper's token machinery is imported when the plugin is actually chosen.

The token goes only to hosts bound to the profile (see :mod:`bp_helper.config.hosts`); any other
URL stops HTTPie with an error before a connection is made. ``-a USERNAME`` picks the
account (between profiles bound to the same host, or the one to log in as). The value of
``-a`` is all HTTPie stores in a ``--session`` file: never the token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from httpie.plugins import AuthPlugin
from requests import PreparedRequest
from requests.auth import AuthBase


class BioProdictAuthPlugin(AuthPlugin):  # type: ignore[misc]  # HTTPie has no type hints
    name = "Bio-Prodict token (bp-helper)"
    description = (
        "Bearer token from bp-helper, sent only to the profile's bound hosts; "
        "-a USERNAME picks the account (optional)"
    )
    auth_type = "bioprodict"
    auth_require = False  # no -a needed: bp-helper knows the account
    auth_parse = False  # -a is a username, not user:password
    prompt_password = False
    netrc_parse = False

    def get_auth(
        self, username: str | None = None, password: str | None = None
    ) -> AuthBase | Callable[[PreparedRequest], Any]:
        from bp_helper.errors import UsageError
        from bp_helper.library.requests_auth import BioProdictAuth

        account = (self.raw_auth or "").strip() or None
        if account is not None and ":" in account:
            # Raised when the request is prepared: HTTPie reports that as a one-line error.
            error = UsageError(
                "--auth-type=bioprodict takes no password: give only a username with -a "
                "(bp-helper supplies the token)"
            )

            def refuse(request: PreparedRequest) -> Any:
                raise error

            return refuse
        return BioProdictAuth(username=account, refuse_unbound=True)
