"""``bp-helper doctor``: check the setup, one line per check, each OK or what to fix.

Checks, in order: the config file and profile; the client id, token URL and client secret;
where the password and two-factor code would come from; the OS keyring (backend, and
whether it works); the token store folder and file; the login; then, unless ``--offline``,
the token URL (reachable, client accepted; for a client-credentials profile, a real grant for
its audience, whose token is not kept) and the clock (the server's ``Date`` header
against the local clock). Exit status 0 only if every line is OK.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass

from bp_helper.config.settings import Settings
from bp_helper.engine.store import StoredToken, TokenStore
from bp_helper.errors import EXIT_FAILURE, BpError
from bp_helper.files import read_private_file, unsafe_dir_reason, writable_ancestor
from bp_helper.secrets import sources as credentials
from bp_helper.secrets.oskeyring import INSTALL_HINT, KeyringUnavailable, OsKeyring, entry
from bp_helper.secrets.profile_keyring import ProfileKeyring
from bp_helper.secrets.prompt import choose_prompter
from bp_helper.secrets.report import keyring_kind, secret_report

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

    def check(self, name: str, run: Callable[[], str]) -> None:
        try:
            line, ok = run(), True
        except Fix as exc:
            line, ok = str(exc), False
        except BpError as exc:
            line, ok = exc.message, False
        self.problems += not ok
        print(f"{'OK ' if ok else 'FIX'}  {name}: {line}", flush=True)

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
        grant = ""
        if settings.client_credentials:  # a missing audience or hosts: a FIX line each
            grant = (
                f"; grant client_credentials for audience {settings.audience!r}, "
                f"API hosts {', '.join(settings.value('hosts'))}"
            )
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
            raise Fix(f"{exc.reason}; {_keyring_advice(exc.reason)}") from None
        if not used:
            return f"{backend} answers; not used by this profile"
        if kind.plaintext and not self.settings.value("allow_plaintext_keyring"):
            raise Fix(
                f"{backend}: what bp-helper keeps there is not encrypted; use an encrypted "
                "backend (a Secret Service such as gnome-keyring), or accept it with "
                "allow_plaintext_keyring = true"
            )
        missing = self._missing_entries(keyring)
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
        except ValueError as exc:
            raise Fix(f"{store.path}: {exc}; run `bp-helper logout`, then log in again") from None
        return f"{store.directory} (0700, yours)" + (f"; {store.path.name} (0600)" if raw else "")

    def login(self) -> str:
        settings = self.settings
        if settings.value("token"):
            return "BIOPRODICT_TOKEN is set: it is handed out as is"
        record = self.record
        if settings.client_credentials:
            state = "none yet"
            if record is not None and record.audience == settings.audience:
                fresh = record.fresh(settings.value("refresh_margin"))
                state = "fresh" if fresh else "expired"
            return (
                f"needs none (client_credentials grant); access token {state}: "
                "`bp-helper token` gets a new one when it is due"
            )
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
        raise Fix("nobody is logged in: run `bp-helper login`")

    def server(self) -> str:
        from bp_helper.engine.service import TokenService

        if self.offline:
            return "not checked (--offline)"
        if self.settings.client_credentials:
            return self._machine_grant()
        probe = TokenService(self.settings).client().probe()
        url = self.settings.value("token_url")
        if probe.client_rejected:
            raise Fix(
                f"{url} refused client id {self.settings.client_id!r} "
                f"(HTTP {probe.status}): check the client id and client secret"
            )
        if not probe.oauth_answer:
            raise Fix(
                f"{url} answered HTTP {probe.status}, but not like a token endpoint: "
                "check token_url"
            )
        self.probe_clock = (probe.server_date, probe.local_time)
        return f"{url} answers (HTTP {probe.status}) and accepts the client"

    def _machine_grant(self) -> str:
        """A real client-credentials grant (its token is not kept): the client, the audience
        and the token URL each checked by the server that matters."""
        from bp_helper.engine.machine_grant import machine_client

        client = machine_client(self.settings)
        client.client_credentials_grant()
        self.probe_clock = (client.server_date, client.local_time)
        return (
            f"{client.token_url} granted client {client.client.client_id!r} a token for "
            f"audience {client.audience!r} (a real client-credentials grant)"
        )

    def clock(self) -> str:
        if self.offline:
            return "not checked (--offline)"
        if self.probe_clock is None:
            raise Fix("not checked: the token URL did not answer (see above)")
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

    @property
    def store(self) -> TokenStore:
        return TokenStore(self.settings.store_dir / "tokens", self.settings.profile)


def _keyring_advice(reason: str) -> str:
    if "not installed" in reason:
        return INSTALL_HINT
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
        return EXIT_FAILURE
    doctor.check("client", doctor.client)
    doctor.check("token store", doctor.storage)
    doctor.check("secrets", doctor.secrets)
    doctor.check("keyring", doctor.keyring)
    doctor.check("login", doctor.login)
    doctor.check("token URL", doctor.server)
    doctor.check("clock", doctor.clock)
    if doctor.problems:
        print(f"{doctor.problems} problem(s) to fix.")
        return EXIT_FAILURE
    print("All is well.")
    return 0
