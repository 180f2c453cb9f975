"""Host binding: which profile's token may go where."""

from __future__ import annotations

from pathlib import Path

import pytest

from bp_helper.config.hosts import is_bound, scheme_allowed
from bp_helper.config.settings import Settings
from bp_helper.route import route
from bp_helper.testing import Sandbox

from .support import (
    Home,
    sign_in,
)

CONFIG = """
[profiles.default]
client_id = "c"
[profiles.staging]
token_url = "https://staging.example.org:8443/oauth/oauth/token"
username = "sam"
[profiles.other-user]
token_url = "https://staging.example.org:8443/oauth/oauth/token"
username = "olga"
[profiles.wide]
hosts = ["api.example.net", "127.0.0.1:9999"]
"""


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    return {"BIOPRODICT_CONFIG": str(config), "XDG_STATE_HOME": str(tmp_path / "state")}


@pytest.mark.parametrize(
    ("scheme", "netloc", "allowed"),
    [
        ("https", "api.bio-prodict.nl", True),
        ("http", "api.bio-prodict.nl", False),
        ("http", "127.0.0.1:8080", True),
        ("http", "localhost", True),
        ("http", "[::1]:80", True),
        ("ftp", "127.0.0.1", False),
    ],
)
def test_scheme_allowed(scheme: str, netloc: str, allowed: bool) -> None:
    assert scheme_allowed(scheme, netloc) is allowed


def test_default_binding_is_the_token_url_host() -> None:
    settings = Settings(environ={})
    assert settings.value("hosts") == ["api.bio-prodict.nl"]
    assert is_bound(settings, "https", "api.bio-prodict.nl")
    assert is_bound(settings, "https", "API.Bio-Prodict.nl:443")
    assert not is_bound(settings, "https", "api.bio-prodict.nl:8443")
    assert not is_bound(settings, "https", "evil.example.org")
    assert not is_bound(settings, "http", "api.bio-prodict.nl")
    assert not is_bound(settings, "https", "api.bio-prodict.nl@evil.example.org")


def test_profile_selected_by_host_and_username(environ: dict[str, str]) -> None:
    def chosen(netloc: str, username: str | None = None, scheme: str = "https") -> str | None:
        settings = route(Settings(environ=environ), scheme, netloc, username)
        return settings.profile if settings else None

    assert chosen("api.bio-prodict.nl") == "default"
    assert chosen("staging.example.org:8443") == "other-user"  # first by name
    assert chosen("staging.example.org:8443", "sam") == "staging"
    assert chosen("staging.example.org:8443", "olga") == "other-user"
    assert chosen("api.example.net") == "wide"
    assert chosen("127.0.0.1:9999", scheme="http") == "wide"
    assert chosen("127.0.0.1:9998", scheme="http") is None
    assert chosen("unbound.example.org") is None


def test_explicit_profile_is_the_only_candidate(environ: dict[str, str]) -> None:
    environ = {**environ, "BIOPRODICT_PROFILE": "wide"}
    assert route(Settings(environ=environ), "https", "api.bio-prodict.nl") is None
    chosen = route(Settings(environ=environ), "https", "api.example.net")
    assert chosen is not None and chosen.profile == "wide"


def test_env_hosts_override_every_profile(environ: dict[str, str]) -> None:
    environ = {**environ, "BIOPRODICT_HOSTS": "one.example.org, two.example.org:444"}
    settings = Settings(environ=environ)
    assert settings.value("hosts") == ["one.example.org", "two.example.org:444"]
    assert settings.resolve("hosts").source == "env BIOPRODICT_HOSTS"
    chosen = route(Settings(environ=environ), "https", "two.example.org:444")
    assert chosen is not None and chosen.profile == "default"


def test_profiles_share_one_reading_of_the_config_file(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import bp_helper.config.settings as settings_module

    reads: list[Path] = []
    real = settings_module.read_capped

    def counting(path: Path, limit: int) -> bytes | None:
        reads.append(path)
        return real(path, limit)

    monkeypatch.setattr(settings_module, "read_capped", counting)
    chosen = route(Settings(environ=environ), "https", "staging.example.org:8443", "sam")
    assert chosen is not None and chosen.profile == "staging"
    assert reads == [Path(environ["BIOPRODICT_CONFIG"])]


def test_the_route_names_the_profile_account_and_settings(environ: dict[str, str]) -> None:
    found = route(Settings(environ=environ), "https", "staging.example.org:8443", "sam")
    assert found is not None
    assert (found.profile, found.account) == ("staging", "sam")
    assert found.settings.value("username") == "sam"
    assert route(Settings(environ=environ), "https", "unbound.example.org", "sam") is None
    machine = {
        **environ,
        "BIOPRODICT_PROFILE": "wide",
        "BIOPRODICT_GRANT": "client_credentials",
        "BIOPRODICT_CLIENT_ID": "bp-predict",
        "BIOPRODICT_CLIENT_SECRET": "",
    }
    found = route(Settings(environ=machine), "https", "api.example.net", "someone")
    assert found is not None and found.profile == "wide"
    assert found.account == "bp-predict"  # a machine token is kept under its client id
    nowhere = route(Settings(environ=environ))  # no host: the invocation's profile
    assert nowhere is not None and (nowhere.profile, nowhere.account) == ("default", None)


@pytest.mark.parametrize("host", ["127.evil.example", "127.0.0.1.evil.example", "127.1"])
def test_only_real_loopback_addresses_get_plain_http(
    sandbox: Sandbox, home: Home, host: str
) -> None:
    sign_in(home)
    netloc = f"{host}:8080"
    home.env["BIOPRODICT_HOSTS"] = f"{sandbox.netloc},{netloc}"
    asked = f"protocol=http\nhost={netloc}\n\n"
    done = home.run(["get"], input=asked, program="git-credential-bioprodict")
    assert done.returncode == 0
    assert done.stdout == ""  # not a loopback address: no token over plain http
    real = home.run(
        ["get"],
        input="protocol=http\nhost=127.0.0.2:8080\n\n",
        program="git-credential-bioprodict",
        env={"BIOPRODICT_HOSTS": f"{sandbox.netloc},127.0.0.2:8080"},
    )
    assert "password=" in real.stdout
