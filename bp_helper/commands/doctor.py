"""``bp-helper doctor``: check the setup, one line per check, each OK or what to fix.

Checks, in order: the config file and profile; the client id, token URL and client secret;
where the password and two-factor code would come from; the OS keyring (backend, and
whether it works); the token store folder and file; the login; then, unless ``--offline``,
the token URL (reachable, client accepted; for a client-credentials profile, a real grant for
its audience, whose token is not kept) and the clock (the server's ``Date`` header
against the local clock). Exit status 0 only if every line is OK; 2 when a problem is a
configuration error (as for every command), else 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from bp_helper.config.settings import Settings
from bp_helper.engine.grants import Grant, grant_of
from bp_helper.engine.login import profile_command
from bp_helper.engine.service import TokenService
from bp_helper.engine.store import TokenStore
from bp_helper.errors import EXIT_FAILURE, EXIT_USAGE, BpError, TokenRequestError
from bp_helper.files import read_private_file, unsafe_dir_reason, writable_ancestor
from bp_helper.secrets import sources as credentials
from bp_helper.secrets.oskeyring import KeyringUnavailable, OsKeyring, entry
from bp_helper.secrets.profile_keyring import ProfileKeyring
from bp_helper.secrets.prompt import choose_prompter
from bp_helper.secrets.report import keyring_kind, secret_report
from bp_helper.tokens import StoredToken

MAX_CLOCK_SKEW = 60.0  # seconds


class Fix(Exception):
    """A check found something to fix; the message says what."""


@dataclass
class Doctor:
    settings: Settings
    offline: bool
    record: StoredToken | None = None
    probe_clock: tuple[float | None, float] | None = None
    problems: int = 0

    config_errors: int = 0  # problems that are configuration errors: exit status 2
    client_ok: bool = True  # else the token URL is not asked: its line would repeat the client's
    answered: bool | None = None  # did the token URL answer? (None: it was not asked)

    def check(self, name: str, run: Callable[[], str]) -> bool:
        try:
            line, ok = run(), True
        except Fix as exc:
            line, ok = str(exc), False
        except BpError as exc:
            line, ok = exc.message, False
            self.config_errors += exc.exit_code == EXIT_USAGE
        self.problems += not ok
        print(f"{'OK ' if ok else 'FIX'}  {name}: {line}", flush=True)
        return ok

    # -- the checks ---------------------------------------------------------------------

    def config(self) -> str:
        settings = self.settings
        path = settings.config_path
        if not path.exists():
            return (
                f"no config file at {path}; profile {settings.profile!r} comes from "
                "the environment and flags"
            )
        table = settings.profile_table  # raises for invalid TOML, an unknown profile, or a
        # file or folder others may write
        ancestor = writable_ancestor(path.parent)
        if ancestor:
            raise Fix(f"{ancestor}; others could replace the config file below it")
        mode = stat.S_IMODE(path.stat().st_mode)
        if "client_secret" in table and mode & 0o077:
            raise Fix(f"{path} holds client_secret but has mode {mode:04o}: run chmod 600 on it")
        where = f"[profiles.{settings.profile}]" if table else "no profile table (defaults)"
        return f"{path}, {where}; profile {settings.profile!r}"

    def client(self) -> str:
        settings = self.settings
        client_id = settings.resolve("client_id")
        settings.client_id  # noqa: B018 -- raises with the fix when it is missing
        settings.value("token_url")
        secret = credentials.client_secret(settings)  # runs client_secret_command, bounded
        self.grant.check()  # a machine profile's missing hosts and audience, together
        grant = self.grant.describe()
        return (
            f"client id {client_id.value!r} ({client_id.source}), client secret from "
            f"{secret.source}; token URL {settings.value('token_url')}{grant}"
        )

    def secrets(self) -> str:
        settings = self.settings
        for setting in ("password_command", "twofactor_command"):
            command = settings.value(setting)
            if command is None:
                continue
            argv = credentials.command_argv(command)
            if not argv or shutil.which(argv[0]) is None:
                raise Fix(f"{setting}: command {argv[0] if argv else ''!r} not found")
        store_path = str(self.store.path)
        found = secret_report(
            settings,
            self.record,
            choose_prompter(settings.value("noninteractive")),
            store_path,
            keyring_kind(settings, self.record),
            self.grant.unused_secrets,
        )
        parts = [
            f"{name}: {item.kept}"
            if item.kept.startswith("not used")
            else f"{name} from {item.source or 'nowhere'}"
            for name, item in found.items()
        ]
        plaintext = [name for name, item in found.items() if item.plaintext]
        return "; ".join(parts[:3]) + (
            f"; plaintext on disk: {', '.join(plaintext)}" if plaintext else ""
        )

    def keyring(self) -> str:
        record = self.record
        used = (self.settings.value("refresh_token_storage") == "keyring") or (
            record is not None and (record.password_in_keyring or record.refresh_token_in_keyring)
        )
        keyring = OsKeyring(self.settings.value("keyring_timeout"))
        try:
            kind = keyring.backend_kind()
            backend = kind.describe()
            if used:
                probe = entry(self.settings.profile, "doctor-probe", "bp-helper")
                # A value no message holds: the keyring masks what it stores in --debug output.
                value = f"bp-helper-doctor-probe-{os.urandom(8).hex()}"
                keyring.set(probe, value)
                read = keyring.get(probe)
                keyring.delete(probe)
                if read != value:
                    raise KeyringUnavailable("it does not give back what was stored")
            else:
                keyring.get(entry(self.settings.profile, "doctor-probe", "bp-helper"))
        except KeyringUnavailable as exc:
            if not used:
                return f"not used by this profile ({exc.reason})"
            advice = _keyring_advice(exc.reason)
            raise Fix(f"{exc.reason}; {advice}" if advice else exc.reason) from None
        if not used:
            return f"{backend} answers; not used by this profile"
        missing = self._missing_entries(keyring)
        # `login --allow-plaintext-keyring` consented to the entries it wrote (still there)
        consented = (
            bool(record and (record.password_in_keyring or record.refresh_token_in_keyring))
            and not missing
        )
        if kind.plaintext and not self.settings.value("allow_plaintext_keyring"):
            if not consented:
                raise Fix(
                    f"{backend}: what bp-helper keeps there is not encrypted; use an encrypted "
                    "backend (a Secret Service such as gnome-keyring), or accept it with "
                    "allow_plaintext_keyring = true"
                )
            return f"{backend} works (accepted at login with --allow-plaintext-keyring)"
        if missing:
            raise Fix(f"{backend} works, but {missing}")
        accepted = " (accepted by allow_plaintext_keyring)" if kind.plaintext else ""
        return f"{backend} works{accepted} (stored, read and removed a test entry)"

    def _missing_entries(self, keyring: OsKeyring) -> str:
        record = self.record
        if record is None:
            return ""
        vault = ProfileKeyring(self.settings.profile, keyring, refresh_in_keyring=True)
        if record.password_in_keyring and keyring.get(vault.password_entry(record.account)) is None:
            return "the remembered password is missing: run `bp-helper login --remember-password`"
        if record.refresh_token_in_keyring and (
            keyring.get(vault.refresh_entry(record.account)) is None
        ):
            return "the refresh token is missing from it: run `bp-helper login`"
        return ""

    def storage(self) -> str:
        store = self.store
        try:
            st = os.lstat(store.directory)
        except FileNotFoundError:
            return f"{store.directory} does not exist yet; the first login creates it (0700)"
        problem = unsafe_dir_reason(st)
        if problem:
            raise Fix(f"{store.directory} {problem}")
        ancestor = writable_ancestor(store.directory)
        if ancestor:
            raise Fix(f"{ancestor}; others could replace the token store below it")
        try:
            raw = read_private_file(store.path)
            self.record = None if raw is None else StoredToken.from_json(raw)
            if self.record is not None:
                self.record = self._grants_record()
        except ValueError as exc:
            raise Fix(f"{store.path}: {exc}; run `bp-helper logout`, then log in again") from None
        return f"{store.directory} (0700, yours)" + (f"; {store.path.name} (0600)" if raw else "")

    def _grants_record(self) -> StoredToken | None:
        """The record of the account the grant keeps its token under (else the default's)."""
        try:
            account = self.grant.account
        except BpError:  # no client id: the client check says so
            account = None
        return self.store.load(account) if account else self.record

    def login(self) -> str:
        settings = self.settings
        if settings.value("token"):
            return "BIOPRODICT_TOKEN is set: it is handed out as is"
        record = self.record
        without_person = self.grant.login_state(record)
        if without_person is not None:
            return without_person
        if record is not None and record.token_url == settings.value("token_url"):
            state = "fresh" if record.fresh(settings.value("refresh_margin")) else "expired"
            refresh = "refresh token kept" if record.has_refresh_token else "no refresh token"
            return f"{record.username}: access token {state}, {refresh}"
        found = secret_report(
            settings, None, choose_prompter(True, "checked by doctor"), str(self.store.path)
        )
        source = found["password"].source
        if source:
            return f"not logged in; `bp-helper token` logs in with the password from {source}"
        raise Fix(f"nobody is logged in: run `{profile_command(settings)} login`")

    def server(self) -> str:
        if self.offline:
            return "not checked (--offline)"
        if not self.client_ok:
            raise Fix("not checked: fix the client settings first (see above)")
        try:
            checked = self.grant.probe()  # a grant that checks the token URL itself
        except TokenRequestError as exc:
            self.answered = not exc.transient  # a refusal is an answer
            raise
        if checked is not None:
            line, self.probe_clock = checked
            self.answered = True
            return line
        client = TokenService(self.settings).client()
        self.answered = False
        probe = client.probe()
        self.answered = True
        self.probe_clock = (probe.server_date, probe.local_time)  # a refusal has a Date too
        url = self.settings.value("token_url")
        if probe.client_rejected:
            raise Fix(
                f"{url} refused client id {self.settings.client_id!r} "
                f"(HTTP {probe.status}, {probe.said}): check the client id and client secret"
            )
        if not probe.oauth_answer:
            raise Fix(
                f"{url} answered HTTP {probe.status}, but not like a token endpoint: "
                "check token_url"
            )
        return (
            f"{url} answers (HTTP {probe.status}) and accepts the client; verified with "
            f"{client.trust.describe()}"
        )

    def clock(self) -> str:
        if self.offline:
            return "not checked (--offline)"
        if self.probe_clock is None:
            why = {None: "was not asked", False: "did not answer"}.get(self.answered)
            raise Fix(f"not checked: the token URL {why or 'refused the request'} (see above)")
        server_date, local = self.probe_clock
        if server_date is None:
            raise Fix("cannot compare clocks: the token server sent no usable Date header")
        # A Date header names a whole second: its middle is the best estimate of the
        # server's time (else a correct 600 s offset reads as 601 half of the time).
        skew = local - (server_date + 0.5)
        if abs(skew) > MAX_CLOCK_SKEW:
            side = "ahead of" if skew > 0 else "behind"
            raise Fix(
                f"the local clock is {abs(skew):.0f} s {side} the token server's: "
                "set the system clock right (enable NTP time sync)"
            )
        return f"within {max(abs(skew), 1):.0f} s of the token server's Date header"

    @cached_property
    def grant(self) -> Grant:
        return grant_of(self.settings)

    @property
    def store(self) -> TokenStore:
        return TokenStore(self.settings.store_dir / "tokens", self.settings.profile)


def _keyring_advice(reason: str) -> str:
    if "not installed" in reason:
        return ""  # the reason names what installs it
    if "no keyring backend" in reason:
        return (
            "install and start a Secret Service (e.g. gnome-keyring), or set "
            'refresh_token_storage = "file" and log in without --remember-password'
        )
    return "unlock the keyring or fix its backend, or stop using it (bp-helper logout)"


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    doctor = Doctor(settings, offline=args.offline)
    print("bp-helper doctor")
    doctor.check("config", doctor.config)
    try:
        settings.profile_table  # noqa: B018 -- the other checks need a readable config
    except BpError:
        print("Fix the configuration first; the other checks depend on it.")
        return EXIT_USAGE
    doctor.client_ok = doctor.check("client", doctor.client)
    doctor.check("token store", doctor.storage)
    doctor.check("secrets", doctor.secrets)
    doctor.check("keyring", doctor.keyring)
    doctor.check("login", doctor.login)
    doctor.check("token URL", doctor.server)
    doctor.check("clock", doctor.clock)
    if doctor.problems:
        print(f"{doctor.problems} problem(s) to fix.")
        return EXIT_USAGE if doctor.config_errors else EXIT_FAILURE
    print("All is well.")
    return 0
