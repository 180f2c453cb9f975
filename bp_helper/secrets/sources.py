"""Where secrets come from: the client secret, the password and the two-factor code.

A source is one small object with one job: :class:`SettingSource` (a flag, an environment
variable or a config key, as :mod:`bp_helper.config.settings` resolves it), :class:`CommandSource`
(a ``*_command`` key), :class:`KeyringSource` (the OS keyring) and :class:`PromptSource`
(the terminal). Each secret tries its sources in one documented order, and the first that
has a value wins; ``--debug`` and ``bp-helper status`` name the winner (never the value):

- client secret: ``BIOPRODICT_CLIENT_SECRET``, ``client_secret``, ``client_secret_command``
  (an empty secret is valid);
- password: ``login --password-stdin``, ``BIOPRODICT_PASSWORD``, ``password_command``, the OS
  keyring (only after ``login --remember-password``), a terminal prompt (only when
  interactive);
- two-factor code: ``login --twofactor``, ``BIOPRODICT_TWOFACTOR``, ``twofactor_command``,
  a terminal prompt (only when a code is expected and someone can be asked).

Commands run without a shell (a string is split like a shell would; for a shell, give
``["sh", "-c", "..."]``), with no stdin and without bp-helper's secret environment
variables, in their own process group, for at most
``command_timeout`` seconds (the whole group is killed after that); the first line of their
output, without its line ending, is the secret.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bp_helper import log
from bp_helper.config.hosts import netloc_of
from bp_helper.config.settings import Settings, without_secrets
from bp_helper.errors import ConfigError, LoginRequired
from bp_helper.secrets.oskeyring import (
    KeyringEntry,
    KeyringUnavailable,
    OsKeyring,
    warn_unavailable,
)
from bp_helper.secrets.prompt import Prompter

MAX_SECRET = 64 * 1024  # bytes: far more than any password, secret or code

KEYRING = "OS keyring"
PROMPT = "terminal prompt"
STDIN = "standard input (--password-stdin)"


@dataclass(frozen=True)
class Secret:
    value: str
    source: str


class SecretSource(Protocol):
    """One place a secret may come from."""

    @property
    def name(self) -> str:
        """Where the secret comes from, as ``status`` and ``--debug`` say it."""
        ...

    def offers(self) -> bool:
        """Whether this source is set up; cheap: runs, reads and asks nothing."""
        ...

    def get(self) -> str | None:
        """The secret, or ``None`` when the source has none after all."""
        ...


def strip_line(text: str) -> str:
    """The first line of ``text`` without its line ending (spaces are kept)."""
    return text.split("\n", 1)[0].rstrip("\r")


class GivenSource:
    """A secret the caller already has (``--password-stdin``)."""

    def __init__(self, value: str | None, name: str) -> None:
        self.value = value
        self.name = name

    def offers(self) -> bool:
        return self.value is not None

    def get(self) -> str | None:
        return self.value


class SettingSource:
    """A flag, an environment variable or a config key (see :meth:`Settings.resolve`)."""

    def __init__(self, settings: Settings, setting: str) -> None:
        self.resolved = settings.resolve(setting)

    @property
    def name(self) -> str:
        return self.resolved.source

    def offers(self) -> bool:
        return self.resolved.value is not None

    def get(self) -> str | None:
        return None if self.resolved.value is None else strip_line(str(self.resolved.value))


class CommandSource:
    """The first output line of a ``*_command`` from the profile."""

    def __init__(self, settings: Settings, setting: str, *, allow_empty: bool) -> None:
        self.setting = setting
        self.resolved = settings.resolve(setting)
        self.timeout = settings.value("command_timeout")
        self.allow_empty = allow_empty

    @property
    def name(self) -> str:
        return f"{self.setting} ({self.resolved.source})"

    def offers(self) -> bool:
        return self.resolved.value is not None

    def get(self) -> str | None:
        if self.resolved.value is None:
            return None
        value = run_secret_command(self.resolved.value, self.name, self.timeout)
        if not value and not self.allow_empty:
            raise ConfigError(f"{self.name}: the command printed nothing")
        return value


class KeyringSource:
    """A secret kept in the OS keyring; a keyring that fails is skipped with one warning."""

    name = KEYRING

    def __init__(self, keyring: OsKeyring, item: KeyringEntry) -> None:
        self.keyring = keyring
        self.item = item

    def offers(self) -> bool:
        return True

    def get(self) -> str | None:
        try:
            value = self.keyring.get(self.item)
        except KeyringUnavailable as exc:
            warn_unavailable(exc, f"the remembered {self.item.what} cannot be read")
            return None
        if value is None:
            log.warn(
                f"the remembered {self.item.what} is missing from the OS keyring "
                f"({self.item.describe()})"
            )
        return value


class PromptSource:
    """Ask on the terminal (a non-interactive prompter says why nobody can be asked)."""

    name = PROMPT

    def __init__(self, prompter: Prompter, question: str, *, secret: bool) -> None:
        self.prompter = prompter
        self.question = question
        self.secret = secret

    def offers(self) -> bool:
        return True

    def get(self) -> str | None:
        return self.prompter.ask(self.question, secret=self.secret)


def first_secret(what: str, sources: Sequence[SecretSource]) -> Secret | None:
    """The secret from the first source that has one, in order; ``None`` if none has."""
    for source in sources:
        if not source.offers():
            continue
        value = source.get()
        if value is None:
            continue
        log.add_secret(value)
        log.debug(f"{what} from {source.name}")
        return Secret(value, source.name)
    return None


def winner(sources: Sequence[SecretSource]) -> str | None:
    """The name of the first source that is set up, without running or asking anything."""
    return next((source.name for source in sources if source.offers()), None)


# -- the three secrets ------------------------------------------------------------------


def client_secret_sources(settings: Settings) -> list[SecretSource]:
    return [
        SettingSource(settings, "client_secret"),
        CommandSource(settings, "client_secret_command", allow_empty=True),
    ]


def client_secret(settings: Settings) -> Secret:
    secret = first_secret("client secret", client_secret_sources(settings))
    if secret is None:
        settings.require_client()
        raise ConfigError(
            "no client secret: set BIOPRODICT_CLIENT_SECRET, or client_secret or "
            f"client_secret_command in [profiles.{settings.profile}] of {settings.config_path} "
            '(use "" for a client without a secret)'
        )
    return secret


def password_sources(
    settings: Settings,
    prompter: Prompter | None,
    username: str,
    *,
    given: str | None = None,
    remembered: tuple[OsKeyring, KeyringEntry] | None = None,
) -> list[SecretSource]:
    sources: list[SecretSource] = [
        GivenSource(given, STDIN),
        SettingSource(settings, "password"),
        CommandSource(settings, "password_command", allow_empty=False),
    ]
    if remembered is not None:
        sources.append(KeyringSource(*remembered))
    if prompter is not None:
        sources.append(PromptSource(prompter, password_question(settings, username), secret=True))
    return sources


def where_to(settings: Settings) -> str:
    """The profile and host a login goes to, as prompts name them."""
    return f"profile {settings.profile!r}, {netloc_of(settings.value('token_url'))}"


def password_question(settings: Settings, username: str) -> str:
    return f"Bio-Prodict password for {username} ({where_to(settings)}): "


def password(sources: Sequence[SecretSource]) -> Secret:
    secret = first_secret("password", sources)
    if secret is None:  # only without a prompt source
        raise LoginRequired("a password is needed, but none is configured")
    return secret


def twofactor_sources(settings: Settings, prompter: Prompter | None) -> list[SecretSource]:
    sources: list[SecretSource] = [
        SettingSource(settings, "twofactor"),
        CommandSource(settings, "twofactor_command", allow_empty=False),
    ]
    if prompter is not None:
        question = f"Two-factor code ({where_to(settings)}): "
        sources.append(PromptSource(prompter, question, secret=False))
    return sources


def twofactor(settings: Settings, prompter: Prompter | None) -> Secret | None:
    """The two-factor code if one is configured; with a prompter, ask when none is."""
    secret = first_secret("two-factor code", twofactor_sources(settings, prompter))
    if secret is None or secret.value.strip():
        return None if secret is None else Secret(secret.value.strip(), secret.source)
    if secret.source == PROMPT:
        raise LoginRequired("no two-factor code given")
    return None  # an empty BIOPRODICT_TWOFACTOR: no code


# -- commands ---------------------------------------------------------------------------


def command_argv(command: str | list[str]) -> list[str]:
    """A ``*_command`` setting as argv: a list as it is, a string split as a shell would."""
    return shlex.split(command) if isinstance(command, str) else list(command)


def run_secret_command(command: Any, what: str, timeout: float) -> str:
    """Run a ``*_command`` without a shell; its first output line, stripped of the line end."""
    argv = command_argv(command)
    log.debug(f"running {what}: {argv[0]!r} with {len(argv) - 1} argument(s)")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=without_secrets(os.environ),
            start_new_session=True,  # its own process group: a timeout kills all of it
        )
    except FileNotFoundError:
        raise ConfigError(f"{what}: command {argv[0]!r} not found") from None
    except OSError as exc:
        raise ConfigError(f"{what}: cannot run {argv[0]!r}: {exc.strerror}") from None
    try:
        out, err = _collect(proc, timeout, MAX_SECRET)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ConfigError(
            f"{what}: the command did not finish within {timeout:g} s "
            "(raise command_timeout in the profile if it needs longer)"
        ) from None
    except OverflowError:
        _kill_group(proc)
        raise ConfigError(
            f"{what}: the command printed more than {MAX_SECRET // 1024} KiB; "
            "it should print the secret alone"
        ) from None
    if proc.returncode != 0:
        # What it printed on stdout may well be the secret (and its stderr may echo it), on a
        # line of its own or after a label ("secret: ..."): no word of it is shown.
        printed = out.decode("utf-8", "replace")
        for line in printed.splitlines():
            log.add_secret(line.strip())
        said = strip_line(err.decode("utf-8", "replace"))
        for word in sorted(set(printed.split()), key=len, reverse=True):
            if len(word) >= 3:  # as log.add_secret: shorter ones would garble the rest
                said = said.replace(word, log.REDACTED)
        said = log.scrub(said, 100)
        raise ConfigError(
            f"{what}: the command failed with exit status {proc.returncode}"
            + (f" ({said})" if said else "")
        )
    try:
        value = strip_line(out.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{what}: the command's output is not UTF-8") from None
    log.add_secret(value)
    return value


def _collect(proc: subprocess.Popen[bytes], timeout: float, limit: int) -> tuple[bytes, bytes]:
    """A command's stdout and stderr, each at most ``limit`` bytes, within ``timeout``.

    ``subprocess.TimeoutExpired`` when it takes longer, ``OverflowError`` when it prints more:
    either way the caller kills it.
    """
    deadline = time.monotonic() + timeout
    output: dict[int, bytearray] = {}
    with selectors.DefaultSelector() as selector:
        for pipe in (proc.stdout, proc.stderr):
            assert pipe is not None
            output[pipe.fileno()] = bytearray()
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                output[key.fd] += chunk
                if len(output[key.fd]) > limit:
                    raise OverflowError
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytes(output[proc.stdout.fileno()]), bytes(output[proc.stderr.fileno()])
    proc.stdout.close()
    proc.stderr.close()
    proc.wait(max(0.0, deadline - time.monotonic()) + 1)
    return out, err


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
