"""A real Secret Service: gnome-keyring-daemon on a private D-Bus session bus.

Both daemons run in the test's isolated home (their own bus socket, keyring files and
runtime folder) and are stopped afterwards; the user's own session and keyring are never
reached. On a machine without the Debian packages ``gnome-keyring`` and ``dbus`` these tests
are skipped with the reason (``pytest -ra`` lists it); under CI (``CI=true``) they fail
instead, because ``.ci/run`` installs the packages.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .support import Home, expire_stored_token, login
from .test_doctor import doctor

pytestmark = pytest.mark.real_clients

ALICE = DEMO_USERS["alice"]
BACKEND = "keyring.backends.SecretService.Keyring"
PROGRAMS = ("dbus-daemon", "dbus-send", "gnome-keyring-daemon")
SECRETS = "org.freedesktop.secrets"


def _dbus_send(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["dbus-send", "--session", "--print-reply", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def _name_has_owner(env: dict[str, str]) -> bool:
    done = _dbus_send(
        env,
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.NameHasOwner",
        f"string:{SECRETS}",
    )
    return "boolean true" in done.stdout


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def secret_service(home: Home) -> Iterator[Home]:
    """``home`` with a running, unlocked gnome-keyring selected as keyring's backend."""
    missing = [name for name in PROGRAMS if shutil.which(name) is None]
    if missing:
        why = f"no {', '.join(missing)}: apt-get install gnome-keyring dbus"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI installs the Secret Service ({why} in .ci/run)")
        pytest.skip(f"needs a Secret Service ({why})")
    runtime = home.root / "run"
    runtime.mkdir(mode=0o700)
    env = {**home.env, "XDG_RUNTIME_DIR": str(runtime)}
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1",
         f"--address=unix:path={runtime}/bus"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )  # fmt: skip
    daemon: subprocess.Popen[bytes] | None = None
    try:
        assert bus.stdout is not None
        ready, _, _ = select.select([bus.stdout], [], [], 20)
        assert ready, "dbus-daemon printed no address"
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        assert daemon.stdin is not None
        daemon.stdin.write(b"bp-helper test keyring")  # creates and unlocks "login"
        daemon.stdin.close()
        deadline = time.monotonic() + 20
        while not _name_has_owner(env):
            assert time.monotonic() < deadline, "gnome-keyring-daemon did not start"
            assert daemon.poll() is None, "gnome-keyring-daemon exited"
            time.sleep(0.1)
        home.env = env
        home.use_keyring(BACKEND)
        yield home
    finally:
        if daemon is not None:
            _stop(daemon)
        _stop(bus)


def test_secret_service_keeps_password_and_refresh_token(
    sandbox: Sandbox, secret_service: Home
) -> None:
    home = secret_service
    home.write_config('[profiles.default]\nrefresh_token_storage = "keyring"\n')
    done = login(home, "alice", "--remember-password")
    assert done.stderr == ""
    assert home.keyring_get("bp-helper:default:password", "alice") == ALICE.password
    refresh = home.keyring_get("bp-helper:default:refresh-token", "alice")
    assert refresh and home.stored()["refresh_token"] is None
    expire_stored_token(home)
    done = home.bp("token")
    assert done.returncode == 0, done.stderr
    assert sandbox.token_requests("refresh_token")[-1].form["refresh_token"] == [refresh]
    result, lines = doctor(home)
    assert result.returncode == 0, result.stdout
    assert lines["keyring"].startswith(f"OK {BACKEND} works")
    assert home.bp("logout").returncode == 0
    assert home.keyring_get("bp-helper:default:password", "alice") is None
    assert home.keyring_get("bp-helper:default:refresh-token", "alice") is None


def test_locked_collection_is_never_fatal(sandbox: Sandbox, secret_service: Home) -> None:
    home = secret_service
    home.write_config("[profiles.default]\nkeyring_timeout = 5\n")
    login(home, "alice", "--remember-password")
    locked = _dbus_send(
        home.env,
        f"--dest={SECRETS}",
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service.Lock",
        "array:objpath:/org/freedesktop/secrets/collection/login",
    )
    assert locked.returncode == 0, locked.stderr
    sandbox.revoke_refresh_tokens()
    expire_stored_token(home)
    started = time.monotonic()
    done = home.bp("token", timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 3  # the remembered password cannot be read: login needed
    warning, error = done.stderr.strip().splitlines()
    assert "OS keyring unavailable" in warning and "cannot be read" in warning
    assert "login needed" in error
    assert home.stored()["password_in_keyring"] is True  # kept for when it is unlocked again
    # with the password from elsewhere, the login goes on without the keyring
    done = home.bp("token", env={"BIOPRODICT_PASSWORD": ALICE.password})
    assert done.returncode == 0, done.stderr
