"""What a profile keeps in the OS keyring: a remembered password and, optionally, the refresh token.

The token store record says what is there (``password_in_keyring``,
``refresh_token_in_keyring``), so handing out a stored access token never asks the keyring
(which may be locked, slow or absent). Entries are named
``service = "bp-helper:<profile>:password"`` (or ``...:refresh-token``), ``username = <3DM
username>``. A keyring that fails is never fatal and never silent: the operation goes on
without it and says what that means in one line.
"""

from __future__ import annotations

from bp_helper import log
from bp_helper.secrets.oskeyring import (
    KeyringEntry,
    KeyringUnavailable,
    OsKeyring,
    entry,
    warn_unavailable,
)
from bp_helper.tokens import StoredToken


class ProfileKeyring:
    """The keyring entries of one profile."""

    def __init__(
        self,
        profile: str,
        keyring: OsKeyring,
        *,
        refresh_in_keyring: bool,
        allow_plaintext: bool = False,
    ) -> None:
        self.profile = profile
        self.keyring = keyring
        self.refresh_in_keyring = refresh_in_keyring
        self.allow_plaintext = allow_plaintext

    def _store(self, item: KeyringEntry, value: str) -> None:
        """Put ``value`` in the keyring, unless the backend keeps it unencrypted unasked.

        Consent to a plaintext backend (``allow_plaintext_keyring``, which
        ``login --allow-plaintext-keyring`` gives for that one run) covers the entry it
        wrote for as long as the entry is there: a refresh replaces it in place, so the
        refresh token stays where it was consented, and ``logout`` removes it.
        """
        kind = self.keyring.backend_kind()
        if kind.plaintext:
            if self.allow_plaintext:
                why = "allow_plaintext_keyring"
            elif self._holds(item):
                why = "where the login that consented to it put it"
            else:
                raise KeyringUnavailable(
                    f"the backend is {kind.describe()}; to keep the {item.what} there anyway, "
                    "set allow_plaintext_keyring = true (BIOPRODICT_ALLOW_PLAINTEXT_KEYRING=1, "
                    "`login --allow-plaintext-keyring`)"
                )
            log.warn(f"the {item.what} is kept in {kind.describe()} ({why})")
        self.keyring.set(item, value)

    def _holds(self, item: KeyringEntry) -> bool:
        """Is ``item`` in the keyring already (written by this profile, with consent)?"""
        try:
            return self.keyring.get(item) is not None
        except KeyringUnavailable:
            return False

    def password_entry(self, username: str) -> KeyringEntry:
        return entry(self.profile, "password", username)

    def refresh_entry(self, username: str) -> KeyringEntry:
        return entry(self.profile, "refresh-token", username)

    # -- the refresh token ----------------------------------------------------------------

    def with_refresh_token(self, record: StoredToken) -> StoredToken:
        """``record`` with its refresh token filled in from the keyring, if it is kept there."""
        if not record.refresh_token_in_keyring or record.refresh_token:
            return record
        item = self.refresh_entry(record.account)
        try:
            value = self.keyring.get(item)
        except KeyringUnavailable as exc:
            warn_unavailable(exc, "the refresh token kept there cannot be used")
            return record._replace(refresh_token_in_keyring=False)
        if value is None:
            log.warn(f"the refresh token is missing from the OS keyring ({item.describe()})")
            return record._replace(refresh_token_in_keyring=False)
        return record._replace(refresh_token=value)

    def for_file(self, token: StoredToken, replaced: StoredToken | None) -> StoredToken:
        """What to write to the token store for ``token``, which replaces ``replaced``.

        With ``refresh_token_storage = "keyring"`` the refresh token goes to the keyring and
        not to the file; if the keyring fails it is not kept at all (it never falls back to
        plaintext), and the warning says so. Entries that ``replaced`` left in the keyring
        and that ``token`` no longer uses are removed.
        """
        if replaced is not None:
            self._clean_up(replaced, token)
        if not self.refresh_in_keyring or token.refresh_token is None:
            return token._replace(refresh_token_in_keyring=False)
        item = self.refresh_entry(token.account)
        try:
            self._store(item, token.refresh_token)
        except KeyringUnavailable as exc:
            warn_unavailable(
                exc,
                'the refresh token is not kept (refresh_token_storage = "keyring"), '
                "so a new login is needed when the access token expires",
            )
            # The account's old entry would stay with nothing pointing at it (another
            # account's was removed by _clean_up).
            if replaced and replaced.refresh_token_in_keyring and replaced.account == token.account:
                self.forget(item)
            return token._replace(refresh_token=None, refresh_token_in_keyring=False)
        return token._replace(refresh_token=None, refresh_token_in_keyring=True)

    def _clean_up(self, old: StoredToken, new: StoredToken) -> None:
        same_user = old.account == new.account
        if old.password_in_keyring and not (same_user and new.password_in_keyring):
            self.forget(self.password_entry(old.account))
        keeps_refresh = self.refresh_in_keyring and new.refresh_token is not None
        if old.refresh_token_in_keyring and not (same_user and keeps_refresh):
            self.forget(self.refresh_entry(old.account))

    # -- the password ---------------------------------------------------------------------

    def remember_password(self, username: str, password: str) -> bool:
        """Store the password; false (with a warning) if the keyring cannot."""
        try:
            self._store(self.password_entry(username), password)
        except KeyringUnavailable as exc:
            warn_unavailable(exc, "the password is not remembered")
            return False
        return True

    # -- forgetting -----------------------------------------------------------------------

    def forget(self, item: KeyringEntry) -> bool:
        """Remove ``item``; false (with a warning that says what is left) if the keyring fails."""
        try:
            self.keyring.delete(item)
        except KeyringUnavailable as exc:
            warn_unavailable(
                exc, f"the {item.what} stays in it; remove it there ({item.describe()})"
            )
            return False
        return True

    def forget_all(self, record: StoredToken) -> list[str]:
        """Remove every entry ``record`` says is in the keyring, and with
        ``refresh_token_storage = "keyring"`` the account's refresh token entry whatever the
        record says (an older bp-helper could lose track of it); what was removed."""
        removed = []
        if record.password_in_keyring and self.forget(self.password_entry(record.account)):
            removed.append("password")
        refresh = self.refresh_entry(record.account)
        if record.refresh_token_in_keyring:
            if self.forget(refresh):
                removed.append("refresh token")
        elif self.refresh_in_keyring:
            try:
                if self.keyring.delete(refresh):
                    removed.append("refresh token")
            except KeyringUnavailable as exc:  # nothing says there is one: no warning
                log.debug(f"keyring not checked for a stray refresh token: {exc.reason}")
        return removed
