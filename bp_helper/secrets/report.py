"""Where each secret comes from and where it is kept, as ``status`` and ``doctor`` say it.

Nothing here runs a command, reads the keyring or prompts: the answer comes from the
settings and the token store record alone, and from the keyring backend's kind when the
caller has asked it (a plaintext backend is named as such, never as an "OS keyring").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bp_helper.config.settings import Settings
from bp_helper.errors import BpError
from bp_helper.secrets import sources as credentials
from bp_helper.secrets.oskeyring import BackendKind, KeyringEntry, KeyringUnavailable, OsKeyring
from bp_helper.secrets.profile_keyring import ProfileKeyring
from bp_helper.secrets.prompt import Prompter
from bp_helper.tokens import StoredToken


@dataclass(frozen=True)
class SecretPlace:
    source: str  # where bp-helper gets it from ("" when nowhere)
    kept: str  # where it lives at rest
    plaintext: bool  # kept unencrypted in a file


def keyring_place(backend: BackendKind | None, item: KeyringEntry) -> SecretPlace:
    """Where a secret in the keyring lives, and whether that is unencrypted."""
    if backend is None:
        return SecretPlace(KEYRING_SOURCE, f"OS keyring ({item.describe()})", False)
    if backend.plaintext:
        return SecretPlace(KEYRING_SOURCE, f"{backend.describe()} ({item.describe()})", True)
    return SecretPlace(
        KEYRING_SOURCE, f"OS keyring {backend.describe()} ({item.describe()})", False
    )


KEYRING_SOURCE = credentials.KEYRING


def secret_report(
    settings: Settings,
    record: StoredToken | None,
    prompter: Prompter,
    store_path: str,
    backend: BackendKind | None = None,
    unused: Mapping[str, str] | None = None,
) -> dict[str, SecretPlace]:
    """Each secret's source and resting place; ``backend``: the keyring's kind, if known;
    ``unused``: the secrets the profile's grant never uses, and what to say instead."""
    # Only names entries: nothing here calls the keyring (``winner`` runs no source).
    vault = ProfileKeyring(settings.profile, OsKeyring(timeout=0), refresh_in_keyring=False)
    in_file = f"token store {store_path} (plaintext file, mode 0600)"
    found: dict[str, SecretPlace] = {}

    try:
        source = credentials.winner(credentials.client_secret_sources(settings))
    except BpError as exc:
        source = f"(invalid: {exc.message})"
    if source is None:
        found["client secret"] = SecretPlace("", "not set", False)
    elif source.startswith("config "):
        found["client secret"] = SecretPlace(source, f"config file {settings.config_path}", True)
    else:
        found["client secret"] = SecretPlace(source, _not_kept(source), False)

    unused = unused or {}
    if "password" in unused:  # nor a username: a grant without a person
        found.update((name, SecretPlace("", why, False)) for name, why in unused.items())
        found["access token"] = _access_token(settings, record, in_file)
        return found
    username = settings.value("username") or (record.account if record else None) or "you"
    item = vault.password_entry(username)
    remembered = record is not None and record.password_in_keyring
    found["password"] = _chain(
        credentials.password_sources(
            settings,
            prompter if prompter.interactive else None,
            username,
            remembered=(vault.keyring, item) if remembered else None,
        ),
        item,
        prompter,
        backend,
    )
    found["two-factor code"] = _chain(
        credentials.twofactor_sources(settings, prompter if prompter.interactive else None),
        None,
        prompter,
        when="when a code is needed",
        unused="needed only for accounts with two-factor authentication",
    )

    if record is None:
        found["refresh token"] = SecretPlace("", "none (not logged in)", False)
    elif record.refresh_token_in_keyring:
        found["refresh token"] = keyring_place(backend, vault.refresh_entry(record.account))
    elif record.refresh_token:
        found["refresh token"] = SecretPlace("token store", in_file, True)
    else:
        found["refresh token"] = SecretPlace("", "none", False)

    found["access token"] = _access_token(settings, record, in_file)
    return found


def _access_token(settings: Settings, record: StoredToken | None, in_file: str) -> SecretPlace:
    if settings.value("token"):
        return SecretPlace("env BIOPRODICT_TOKEN", "not kept (environment)", False)
    if record is not None and record.access_token:
        return SecretPlace("token store", in_file, True)
    return SecretPlace("", "none", False)


def _chain(
    sources: list[credentials.SecretSource],
    item: KeyringEntry | None,
    prompter: Prompter,
    backend: BackendKind | None = None,
    when: str = "",
    unused: str = "",
) -> SecretPlace:
    try:
        source = credentials.winner(sources)
    except BpError as exc:
        return SecretPlace("", f"(invalid: {exc.message})", False)
    if source is None:
        why = getattr(prompter, "reason", "nobody can be asked")
        note = f" ({unused})" if unused else ""
        return SecretPlace("", f"nowhere: not configured, and {why}{note}", False)
    if source == credentials.KEYRING and item is not None:
        return keyring_place(backend, item)
    if source == credentials.PROMPT:
        return SecretPlace(
            source, f"not kept (asked on the terminal{' ' + when if when else ''})", False
        )
    return SecretPlace(source, _not_kept(source), False)


def _not_kept(source: str) -> str:
    if source.startswith("env "):
        return "not kept by bp-helper (environment)"
    if "_command" in source:
        return "not kept by bp-helper (wherever the command gets it)"
    return "not kept by bp-helper"


def report(found: dict[str, SecretPlace]) -> dict[str, Any]:
    return {
        "secrets": {name: asdict(item) for name, item in found.items()},
        "plaintext": [name for name, item in found.items() if item.plaintext],
    }


def keyring_kind(settings: Settings, record: StoredToken | None) -> BackendKind | None:
    """The keyring backend's kind, asked only when the token store says it holds something."""
    if record is None or not (record.password_in_keyring or record.refresh_token_in_keyring):
        return None
    try:
        return OsKeyring(settings.value("keyring_timeout")).backend_kind()
    except KeyringUnavailable:
        return None
