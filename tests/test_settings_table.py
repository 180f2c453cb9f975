"""The settings table is the one source of the options, the resolver and the reference docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bp_helper.commands.cli import build_parser
from bp_helper.config.settings import Settings
from bp_helper.config.table import SETTINGS, Setting, markdown_table, switch
from bp_helper.errors import ConfigError
from bp_helper.protocols.program import VALUED

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
