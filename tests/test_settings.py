"""Settings: the table (one source of options, resolver and docs) and the config file it reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bp_helper.commands.cli import build_parser
from bp_helper.config.settings import Settings
from bp_helper.config.table import BY_NAME, SETTINGS, Setting, markdown_table, switch
from bp_helper.errors import BpError, ConfigError
from bp_helper.protocols.program import VALUED
from bp_helper.testing import Sandbox

from .support import Home, one_line_error

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def test_reference_docs_show_the_table_as_generated() -> None:
    assert markdown_table() in DOCS.read_text()


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.flag], ids=lambda s: s.name)
def test_every_row_with_a_flag_is_an_option_of_the_cli(setting: Setting) -> None:
    assert setting.flag is not None
    command = setting.flag_of or "status"
    value = [] if setting.convert is switch else ["x"]
    args = build_parser(command).parse_args([command, setting.flag, *value])
    assert getattr(args, setting.name) == (True if not value else "x")


def test_helper_executables_take_the_flags_the_table_gives_them() -> None:
    assert VALUED == {"--profile": "profile", "--config": "config"}


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.env], ids=lambda s: s.name)
def test_the_environment_variable_is_read(setting: Setting, tmp_path: Path) -> None:
    env = setting.env[0]
    value = {
        "hosts": "example.org",
        "token_url": "https://example.org/t",
        "profile": "p",
        "grant": "client_credentials",
    }.get(setting.name, "1")
    environ = {env: value, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    if setting.name == "config":
        (tmp_path / "c.toml").write_text("")
        environ[env] = str(tmp_path / "c.toml")
    if setting.name == "profile":
        (tmp_path / "bp-helper").mkdir()
        (tmp_path / "bp-helper" / "config.toml").write_text("[profiles.p]\n")
    resolved = Settings({}, environ).resolve(setting.name)
    assert resolved.source == f"env {env}"


def test_a_conversion_error_names_the_setting_and_its_source(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.default]\ntimeout = "soon"\n')
    with pytest.raises(ConfigError, match=r"timeout \(from config .*\[profiles.default\]\)"):
        Settings({"config": str(config)}).resolve("timeout")


TOML_PIECES = st.sampled_from(
    [
        "[profiles.default]\n",
        "[profiles]\n",
        "profiles = 3\n",
        "[profiles.default.x]\n",
        'token_url = "https://h/t"\n',
        'token_url = "http://h/t"\n',
        "token_url = 5\n",
        'hosts = ["a", "b:1"]\n',
        'hosts = "a,,b"\n',
        "hosts = []\n",
        'hosts = ["a/b"]\n',
        "timeout = -1\n",
        "timeout = 1e999\n",
        'timeout = "x"\n',
        "refresh_margin = true\n",
        'client_secret_command = ["echo", 1]\n',
        "client_id = {}\n",
        'unknown = "v"\n',
        "=\n",
        '"\n',
    ]
)


@pytest.mark.slow
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(TOML_PIECES, max_size=8), noise=st.binary(max_size=40))
def test_config_loader_never_crashes(tmp_path: Path, pieces: list[str], noise: bytes) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes("".join(pieces).encode() + noise)
    settings_ = Settings(environ={"BIOPRODICT_CONFIG": str(config), "BIOPRODICT_CLIENT_ID": "c"})
    for name in BY_NAME:
        try:
            settings_.resolve(name)
        except BpError as exc:
            assert "\n" not in exc.message


def test_a_deeply_nested_config_file_is_a_config_error(sandbox: Sandbox, home: Home) -> None:
    home.write_config("[profiles.default]\nhosts = " + "[" * 30_000 + "\n")
    done = home.bp("token")
    assert done.returncode == 2
    assert "is not valid TOML" in one_line_error(done)


def test_an_unbalanced_quote_is_a_config_error(sandbox: Sandbox, home: Home) -> None:
    home.write_config("[profiles.default]\nusername = 'alice'\npassword_command = \"pass 'oops\"\n")
    done = home.bp("token")
    assert done.returncode == 2
    line = one_line_error(done)
    assert "password_command" in line and "quot" in line


def test_a_config_that_is_not_a_regular_file_is_refused(
    sandbox: Sandbox, home: Home, tmp_path: Path
) -> None:
    fifo = tmp_path / "config.fifo"  # like /dev/zero: reading it never ends
    os.mkfifo(fifo)
    done = home.bp("token", env={"BIOPRODICT_CONFIG": str(fifo)}, timeout=60)
    assert done.returncode == 2
    assert "is not a regular file" in one_line_error(done)
