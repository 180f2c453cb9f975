"""Where secrets come from: the client secret, the password and the two-factor code.

Each is looked up in one documented order and comes back with the name of its source,
which ``--debug`` shows (never the value):

- client secret: ``BIOPRODICT_CLIENT_SECRET``, then ``client_secret``, then
  ``client_secret_command`` in the profile (an empty secret is valid);
- password: ``BIOPRODICT_PASSWORD``, then ``password_command``, then a terminal prompt;
- two-factor code: ``--twofactor``, then ``BIOPRODICT_TWOFACTOR``, then
  ``twofactor_command``, then a terminal prompt when a code is needed.

Commands run without a shell (a string is split like a shell would), with no stdin and a
time limit; the first line of their output is the secret, without its line ending.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

from . import log
from .errors import ConfigError, LoginRequired
from .prompt import Prompter
from .settings import Settings

COMMAND_TIMEOUT = 30.0


@dataclass(frozen=True)
class Secret:
    value: str
    source: str


def strip_line(text: str) -> str:
    """The first line of ``text`` without its line ending (spaces are kept)."""
    return text.split("\n", 1)[0].rstrip("\r")


def run_secret_command(command: Any, setting: str, source: str) -> str:
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    what = f"{setting} ({source})"
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(f"{what}: command {argv[0]!r} not found") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what}: command did not finish within {COMMAND_TIMEOUT:g} s") from None
    except OSError as exc:
        raise ConfigError(f"{what}: cannot run command: {exc.strerror}") from None
    if done.returncode != 0:
        raise ConfigError(f"{what}: command failed with exit status {done.returncode}")
    value = strip_line(done.stdout.decode("utf-8", errors="strict"))
    log.add_secret(value)
    return value


def _from_settings(settings: Settings, direct: str, command: str) -> Secret | None:
    resolved = settings.resolve(direct)
    if resolved.value is not None:
        value = strip_line(str(resolved.value))
        log.add_secret(value)
        return Secret(value, resolved.source)
    resolved = settings.resolve(command)
    if resolved.value is not None:
        return Secret(run_secret_command(resolved.value, command, resolved.source), resolved.source)
    return None


def client_secret(settings: Settings) -> Secret:
    secret = _from_settings(settings, "client_secret", "client_secret_command")
    if secret is None:
        raise ConfigError(
            "no client secret: set BIOPRODICT_CLIENT_SECRET, or client_secret or "
            f"client_secret_command in [profiles.{settings.profile}] of {settings.config_path} "
            '(use "" for a client without a secret)'
        )
    log.debug(f"client secret from {secret.source}")
    return secret


def password(settings: Settings, prompter: Prompter, username: str) -> Secret:
    secret = _from_settings(settings, "password", "password_command")
    if secret is None:
        value = prompter.ask(f"Bio-Prodict password for {username}: ", secret=True)
        log.add_secret(value)
        secret = Secret(value, "terminal prompt")
    log.debug(f"password from {secret.source}")
    return secret


def twofactor(settings: Settings, prompter: Prompter | None) -> Secret | None:
    """The two-factor code if one is configured; with a prompter, ask when none is."""
    secret = _from_settings(settings, "twofactor", "twofactor_command")
    if secret is None and prompter is not None:
        value = prompter.ask("Two-factor code: ", secret=False).strip()
        if not value:
            raise LoginRequired("no two-factor code given")
        secret = Secret(value, "terminal prompt")
    if secret is not None:
        log.add_secret(secret.value)
        log.debug(f"two-factor code from {secret.source}")
    return secret
