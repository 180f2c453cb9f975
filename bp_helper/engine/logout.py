"""Forgetting a profile's tokens, or one account's: the token file, the keyring entries and
the profile's refusal and failure notes. Called while holding the profile's lock."""

from __future__ import annotations

from bp_helper import log
from bp_helper.engine.notes import FailureNote, RefusalNote
from bp_helper.engine.store import TokenStore
from bp_helper.secrets.profile_keyring import ProfileKeyring


def forget_profile(store: TokenStore, keyring: ProfileKeyring, account: str | None = None) -> bool:
    """Remove a profile's tokens (every account's, or ``account``'s), their keyring entries
    and the profile's refusal and failure records."""
    for record in store.accounts():
        if account is None or record.account == account:
            removed = keyring.forget_all(record)
            if removed:
                log.debug(f"removed the {' and '.join(removed)} from the OS keyring")
    RefusalNote(store.directory, store.profile).clear()
    FailureNote(store.directory, store.profile).clear()
    return store.delete(account)
