"""bp-helper's own XDG lookup gives exactly platformdirs' answer."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import platformdirs
import pytest

from bp_helper.config.paths import APP, user_config_dir, user_state_dir
from bp_helper.testing import DEMO_USERS, Sandbox

from .support import (
    Home,
    executable,
)

CASES = [
    {"HOME": "/home/u"},
    {"HOME": "/home/u/", "XDG_STATE_HOME": "/srv/state", "XDG_CONFIG_HOME": "/srv/config"},
    {"HOME": "/home/u", "XDG_STATE_HOME": "relative/state", "XDG_CONFIG_HOME": ""},
    {"HOME": "/home/u", "XDG_STATE_HOME": "~/state", "XDG_CONFIG_HOME": "~/config"},
    {"HOME": "/home/with space/ü", "XDG_CONFIG_HOME": "/a//b/"},
    {"HOME": "relative-home"},
    {},
]


@pytest.mark.parametrize("env", CASES)
def test_same_folders_as_platformdirs(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in ("HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        expected = (
            Path(platformdirs.user_config_dir(APP, appauthor=False)),
            Path(platformdirs.user_state_dir(APP, appauthor=False)),
        )
    except RuntimeError:  # platformdirs cannot place them: neither may we, differently
        with pytest.raises(RuntimeError):
            user_config_dir()
        return
    assert (user_config_dir(), user_state_dir()) == expected


def test_folders_are_private_under_umask_000(sandbox: Sandbox, home: Home) -> None:
    done = subprocess.run(
        [
            "sh",
            "-c",
            'umask 000; exec "$0" login --username alice --password-stdin',
            executable("bp-helper"),
        ],
        input=DEMO_USERS["alice"].password,
        capture_output=True,
        text=True,
        env=home.env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    state = home.root / "state"
    for folder in (state, state / "bp-helper", state / "bp-helper" / "tokens"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(home.store_file().stat().st_mode) == 0o600
