"""The grant strategies: every value of the settings table's grant row has its module."""

from __future__ import annotations

import pytest

from bp_helper.config.settings import Settings
from bp_helper.config.table import GRANTS
from bp_helper.engine.grants import Grant, grant_of

# What every grant implements (the others have defaults for a grant a person logs in to).
REQUIRED = ("account", "owns", "renewable", "obtain", "login", "login_lines")


@pytest.mark.parametrize("name", GRANTS)
def test_each_grant_value_names_a_module_implementing_the_protocol(name: str) -> None:
    grant = grant_of(Settings({"grant": name}, environ={}))
    assert isinstance(grant, Grant) and grant.name == name
    missing = [m for m in REQUIRED if getattr(type(grant), m) is getattr(Grant, m)]
    assert missing == []


def test_an_unknown_grant_is_a_configuration_error() -> None:
    from bp_helper.errors import ConfigError

    with pytest.raises(ConfigError, match='must be "password" or "client_credentials"'):
        grant_of(Settings({"grant": "device_code"}, environ={}))
