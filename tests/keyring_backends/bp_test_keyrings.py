"""Keyring backends for the tests only, selected through keyring's own configuration.

The tests put this folder on ``PYTHONPATH`` (or name it as ``keyring-path`` in
``keyringrc.cfg``) and select a backend with ``PYTHON_KEYRING_BACKEND=bp_test_keyrings.X``.
"""

from __future__ import annotations

import time

from keyring.backend import KeyringBackend


class RaisingKeyring(KeyringBackend):
    """A backend that raises on every call, and puts what it was given in the message."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError(f"backend broke while reading {service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"backend broke while storing {password}")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError(f"backend broke while removing {service}/{username}")


class SleepingKeyring(KeyringBackend):
    """A backend that never answers: like a locked collection waiting for an unlock prompt."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(3600)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(3600)

    def delete_password(self, service: str, username: str) -> None:
        time.sleep(3600)
