"""The OS keyring, through the optional ``keyring`` library: bounded, lazy, never fatal.

``keyring`` is an extra (``bp-helper[keyring]``), imported on first use. Every call, the
import and the backend's own start-up included, runs in a daemon thread and is given
``timeout`` seconds: a locked collection that waits for an unlock prompt nobody sees, or a
D-Bus peer that never answers, cannot hang bp-helper.

Whatever goes wrong (the library is not installed, keyring's ``fail`` backend on a headless
machine, a locked collection, a backend that raises or sleeps) becomes
:class:`KeyringUnavailable` with a short reason. Callers go on without the keyring and say so
in one line (:func:`warn_unavailable`). After one failure the keyring is not asked again in
the same process, so a hanging backend costs at most one timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bp_helper import log
from bp_helper.install import install_command

T = TypeVar("T")


@dataclass(frozen=True)
class KeyringEntry:
    """One secret in the keyring: ``service`` and ``username`` as keyring names them."""

    service: str
    username: str
    what: str  # "password", "refresh token"

    def describe(self) -> str:
        return f"service {self.service!r}, user {self.username!r}"


def entry(profile: str, kind: str, username: str) -> KeyringEntry:
    """The entry where bp-helper keeps ``kind`` ("password", "refresh-token") of a profile."""
    return KeyringEntry(f"bp-helper:{profile}:{kind}", username, kind.replace("-", " "))


class KeyringUnavailable(Exception):
    """The keyring cannot be used here, now; ``reason`` says why (no secret in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def warn_unavailable(exc: KeyringUnavailable, consequence: str) -> None:
    """The one line that says the keyring was skipped, and what that means."""
    log.warn(f"OS keyring unavailable ({exc.reason}); {consequence}")


class OsKeyring:
    """The keyring backend that ``keyring`` chooses (``PYTHON_KEYRING_BACKEND``,
    ``keyringrc.cfg``, or its own detection), each call bounded by ``timeout`` seconds."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._broken: str | None = None

    def get(self, item: KeyringEntry) -> str | None:
        """The stored secret, or ``None`` if the keyring holds none for ``item``."""
        value = self._call(f"read the {item.what}", lambda b: b.get_password(*_names(item)))
        if value is not None and not isinstance(value, str):
            raise self._fail(f"the backend returned a {type(value).__name__}, not a string")
        log.add_secret(value)
        log.debug(f"{item.what} {'found' if value else 'not found'} in the OS keyring")
        return value

    def set(self, item: KeyringEntry, value: str) -> None:
        log.add_secret(value)
        self._call(f"store the {item.what}", lambda b: b.set_password(*_names(item), value))
        log.debug(f"stored the {item.what} in the OS keyring ({item.describe()})")

    def delete(self, item: KeyringEntry) -> bool:
        """Remove ``item``; false if it was not there."""

        def delete(backend: Any) -> bool:
            from keyring.errors import PasswordDeleteError

            try:
                backend.delete_password(*_names(item))
            except PasswordDeleteError:
                return False
            return True

        removed = self._call(f"remove the {item.what}", delete)
        log.debug(f"{item.what} {'removed from' if removed else 'was not in'} the OS keyring")
        return removed

    def backend_name(self) -> str:
        """The backend's class (for a chainer: the backends it chains)."""
        return self._call("name the backend", describe_backend)

    def backend_kind(self) -> BackendKind:
        """Whether the backend keeps secrets encrypted (see :func:`classify`)."""
        return self._call("name the backend", classify)

    # -- plumbing -----------------------------------------------------------------------

    def _call(self, what: str, action: Callable[[Any], T]) -> T:
        if self._broken is not None:
            raise KeyringUnavailable(self._broken)
        outcome: list[Any] = []

        def work() -> None:
            try:
                outcome.append((True, action(_backend())))
            except BaseException as exc:  # reported below, in the caller's thread
                outcome.append((False, exc))

        worker = threading.Thread(target=work, name="bp-helper-keyring", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if not outcome:
            log.debug(f"OS keyring: no answer when asked to {what}")
            raise self._fail(
                f"the backend did not answer within {self.timeout:g} s "
                "(a locked keyring waiting for an unlock prompt?)"
            )
        ok, value = outcome[0]
        if ok:
            return value  # type: ignore[no-any-return]
        raise self._fail(_reason(value))

    def _fail(self, reason: str) -> KeyringUnavailable:
        self._broken = reason
        log.debug(f"OS keyring: {reason}")
        return KeyringUnavailable(reason)


def _names(item: KeyringEntry) -> tuple[str, str]:
    return item.service, item.username


def _backend() -> Any:
    # Both imported here, on the keyring's first use (an optional extra, which imports
    # `logging` itself): the commands that never consult it do not load `logging`.
    import logging

    import keyring

    # keyring reports config problems through `logging`; they reach users as our one line.
    logging.getLogger("keyring").addHandler(logging.NullHandler())

    return keyring.get_keyring()


# Backends known to keep secrets encrypted at rest (by the OS, a keyring daemon, or a
# password-derived key). Anything else is "unknown" unless known to be plaintext.
ENCRYPTED = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.libsecret.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.kwallet.DBusKeyringKWallet4",
        "keyring.backends.macOS.Keyring",
        "keyring.backends.Windows.WinVaultKeyring",
        "keyrings.alt.file.EncryptedKeyring",
        "keyrings.alt.Windows.EncryptedKeyring",
        "keyrings.cryptfile.cryptfile.CryptFileKeyring",
    }
)


@dataclass(frozen=True)
class BackendKind:
    """A keyring backend and how it keeps secrets: "encrypted", "plaintext" or "unknown"."""

    name: str
    kind: str
    where: str = ""  # the file a file backend writes, when it says

    @property
    def plaintext(self) -> bool:
        return self.kind == "plaintext"

    def describe(self) -> str:
        if self.plaintext:
            place = f" in {self.where}" if self.where else " in a file"
            return f"{self.name}, which keeps secrets UNENCRYPTED{place}"
        if self.kind == "unknown":
            return f"{self.name} (not known to encrypt what it keeps)"
        return self.name


def classify(backend: Any) -> BackendKind:
    """How ``backend`` keeps secrets; a chainer is as weak as the weakest it chains."""
    name = describe_backend(backend)
    inner = getattr(backend, "backends", None)
    if inner and name != f"{type(backend).__module__}.{type(backend).__qualname__}":
        kinds = [classify(b) for b in inner]
        weakest = next((k for k in kinds if k.plaintext), None) or next(
            (k for k in kinds if k.kind == "unknown"), kinds[0]
        )
        return BackendKind(name, weakest.kind, weakest.where)
    where = getattr(backend, "file_path", "")
    if name in ENCRYPTED:
        return BackendKind(name, "encrypted")
    if "plaintext" in type(backend).__qualname__.lower():
        return BackendKind(name, "plaintext", where if isinstance(where, str) else "")
    return BackendKind(name, "unknown")


def describe_backend(backend: Any) -> str:
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    inner = getattr(backend, "backends", None)
    if name == "keyring.backends.chainer.ChainerBackend" and inner:
        return " + ".join(describe_backend(b) for b in inner)
    return name


def _reason(exc: BaseException) -> str:
    """A short, secret-free reason for a failed keyring call."""
    if isinstance(exc, ImportError) and (exc.name or "").split(".")[0] == "keyring":
        return f"the keyring library is not installed; {install_command('keyring')} adds it"
    kind = type(exc).__name__
    module = type(exc).__module__
    if kind == "NoKeyringError":
        return "no keyring backend works here (keyring's fail backend, e.g. a headless machine)"
    if kind == "KeyringLocked":
        return f"the keyring is locked: {log.scrub(str(exc), 100)}"
    origin = "keyring backend" if module.startswith(("keyring", "secretstorage")) else module
    text = log.scrub(str(exc), 120)
    return f"{origin} raised {kind}" + (f": {text}" if text else "")
