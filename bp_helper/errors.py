"""The one exception family bp-helper raises on purpose, and its exit codes.

Every error that reaches a user is a :class:`BpError`: one line that names the cause and
the fix. The command-line front-ends turn it into ``bp-helper: <message>`` on stderr and
exit with its ``exit_code``; nothing else prints tracebacks.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from bp_helper import log, process

EXIT_OK = 0
EXIT_FAILURE = 1  # network, server refusal, storage
EXIT_USAGE = 2  # bad flags, bad configuration
EXIT_LOGIN_REQUIRED = 3  # a login is needed and nobody can be asked
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class BpError(Exception):
    """An error with a one-line, secret-free message that says what to do."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(BpError):
    """The command line or an argument is wrong."""

    exit_code = EXIT_USAGE


class ConfigError(BpError):
    """A setting is missing or invalid."""

    exit_code = EXIT_USAGE


class HostNotBound(UsageError):
    """A token was wanted for a host no profile is bound to: it is never sent there."""


class LoginRequired(BpError):
    """A (new) password login is needed, but no password or terminal is available."""

    exit_code = EXIT_LOGIN_REQUIRED

    def __init__(self, message: str, *, names_next_step: bool = False) -> None:
        super().__init__(message)
        self.names_next_step = names_next_step  # the message already says what to do


class Cancelled(BpError):
    """The user pressed Ctrl-C at a prompt: nothing was sent; exit 130 as for any interrupt."""

    exit_code = EXIT_INTERRUPTED


class StoreError(BpError):
    """The token store cannot be read, locked or written."""


class TokenRequestError(BpError):
    """The token endpoint could not be reached or did not give a usable answer.

    ``transient`` is true for failures that say nothing about the credentials (5xx,
    HTML pages, timeouts, connection errors, malformed answers): stored credentials stay.
    """

    transient = True


class CredentialsRejected(TokenRequestError):
    """The server refused the username, password or two-factor code (password grant)."""

    transient = False

    def __init__(
        self, message: str, *, maybe_twofactor: bool = False, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.maybe_twofactor = maybe_twofactor
        self.reason = reason or message  # what the server said, without advice
        self.code_missing = False  # refused for want of a two-factor code nobody could give
        self.retry_no = False  # typing the password again would not help (locked, 2FA)


class RefreshRejected(TokenRequestError):
    """The server refused the refresh token: it is unknown, expired, revoked or not allowed."""

    transient = False


class ClientRejected(TokenRequestError):
    """The server refused the client id or client secret (the Basic header)."""

    transient = False
    exit_code = EXIT_FAILURE


class AudienceRejected(TokenRequestError):
    """The server grants the client no token for the audience asked for (client credentials)."""

    transient = False


def exit_status(body: Callable[[], int]) -> int:
    """Run a program's ``body``: every error becomes one line on stderr and an exit status.

    The one exit point of every executable; tracebacks only with ``--debug`` (redacted).
    It also prepares the process (no core dumps, closed standard streams; see
    :mod:`bp_helper.process`) and turns a failed write to stdout into one line.
    """
    process.prepare()
    try:
        status = body()
        process.flush_stdout()
        return status
    except BpError as exc:
        log.error(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        failure = process.output_failure(exc)
        if failure is None:
            return _internal_error(exc)
        process.silence_stdout()
        log.error(failure)
        return EXIT_FAILURE
    except Exception as exc:
        return _internal_error(exc)


def _internal_error(exc: Exception) -> int:
    """A bug: say so in one line, details only with --debug."""
    if log.debug_enabled():
        log.debug(traceback.format_exc())
    log.error(f"internal error ({type(exc).__name__}); run with --debug for details")
    return EXIT_FAILURE


class LoginRefusedRecently(BpError):
    """A login of this user was refused moments ago; not trying again yet."""
