"""Where each secret comes from and where it is kept, as ``status`` and ``doctor`` say it.

Nothing here runs a command, reads the keyring or prompts: the answer comes from the
settings and the token store record alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from . import credentials
from .errors import BpError
from .oskeyring import KeyringEntry, OsKeyring
from .settings import Settings
from .store import StoredToken
from .vault import KeyringSecrets

if TYPE_CHECKING:
    from .prompt import Prompter


@dataclass(frozen=True)
class Whereabouts:
    source: str  # where bp-helper gets it from ("" when nowhere)
    kept: str  # where it lives at rest
    plaintext: bool  # kept unencrypted in a file


def secret_whereabouts(
    settings: Settings, record: StoredToken | None, prompter: Prompter, store_path: str
) -> dict[str, Whereabouts]:
    # Only names entries: nothing here calls the keyring (``winner`` runs no source).
    vault = KeyringSecrets(settings.profile, OsKeyring(timeout=0), refresh_in_keyring=False)
    in_file = f"token store {store_path} (plaintext file, mode 0600)"
    found: dict[str, Whereabouts] = {}

    try:
        source = credentials.winner(credentials.client_secret_sources(settings))
    except BpError as exc:
        source = f"(invalid: {exc.message})"
    if source is None:
        found["client secret"] = Whereabouts("", "not set", False)
    elif source.startswith("config "):
        found["client secret"] = Whereabouts(source, f"config file {settings.config_path}", True)
    else:
        found["client secret"] = Whereabouts(source, _not_kept(source), False)

    username = settings.username or (record.username if record else None) or "you"
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
    )
    found["two-factor code"] = _chain(
        credentials.twofactor_sources(settings, prompter if prompter.interactive else None),
        None,
        prompter,
        when="when a code is needed",
        unused="needed only for accounts with two-factor authentication",
    )

    if record is None:
        found["refresh token"] = Whereabouts("", "none (not logged in)", False)
    elif record.refresh_token_in_keyring:
        entry = vault.refresh_entry(record.username)
        found["refresh token"] = Whereabouts(
            "OS keyring", f"OS keyring ({entry.describe()})", False
        )
    elif record.refresh_token:
        found["refresh token"] = Whereabouts("token store", in_file, True)
    else:
        found["refresh token"] = Whereabouts("", "none", False)

    if settings.value("token"):
        found["access token"] = Whereabouts("env BIOPRODICT_TOKEN", "not kept (environment)", False)
    elif record is not None and record.access_token:
        found["access token"] = Whereabouts("token store", in_file, True)
    else:
        found["access token"] = Whereabouts("", "none", False)
    return found


def _chain(
    sources: list[credentials.SecretSource],
    item: KeyringEntry | None,
    prompter: Prompter,
    when: str = "",
    unused: str = "",
) -> Whereabouts:
    try:
        source = credentials.winner(sources)
    except BpError as exc:
        return Whereabouts("", f"(invalid: {exc.message})", False)
    if source is None:
        why = getattr(prompter, "reason", "nobody can be asked")
        note = f" ({unused})" if unused else ""
        return Whereabouts("", f"nowhere: not configured, and {why}{note}", False)
    if source == credentials.KEYRING and item is not None:
        return Whereabouts(source, f"OS keyring ({item.describe()})", False)
    if source == credentials.PROMPT:
        return Whereabouts(
            source, f"not kept (asked on the terminal{' ' + when if when else ''})", False
        )
    return Whereabouts(source, _not_kept(source), False)


def _not_kept(source: str) -> str:
    if source.startswith("env "):
        return "not kept by bp-helper (environment)"
    if "_command" in source:
        return "not kept by bp-helper (wherever the command gets it)"
    return "not kept by bp-helper"


def report(found: dict[str, Whereabouts]) -> dict[str, Any]:
    return {
        "secrets": {name: asdict(item) for name, item in found.items()},
        "plaintext": [name for name, item in found.items() if item.plaintext],
    }
