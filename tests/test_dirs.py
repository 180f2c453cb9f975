"""bp-helper's own XDG lookup gives exactly platformdirs' answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from bp_helper.config.paths import APP, user_config_dir, user_state_dir

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


def test_linux_lookup_does_not_import_platformdirs() -> None:
    code = (
        "import sys; from bp_helper.config.paths import user_state_dir, user_config_dir; "
        "user_state_dir(); user_config_dir(); print('platformdirs' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"HOME": "/home/u", "PATH": "/usr/bin"},
    )
    assert done.stdout.strip() == ("False" if sys.platform.startswith("linux") else "True")
