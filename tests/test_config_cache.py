"""The parsed config file is cached beside the token store: TOML is parsed only when the file's
text changes, the cache is never trusted blindly, and a cached ``get`` resolves only the
profiles that may serve the host (see bp_helper.config.cache)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bp_helper.basics import cache_file_name
from bp_helper.config.cache import ConfigCache
from bp_helper.config.settings import Settings
from bp_helper.errors import BpError, ConfigError
from bp_helper.route import route
from bp_helper.testing import Sandbox

from .protocol_support import GIT, run_bytes
from .support import UNMEASURED, Home, expire_stored_token, imported_modules, sign_in

# two hosts whose names have the same length: a swap keeps the file's size
HOST_A = "api-a.example.org"
HOST_B = "api-b.example.org"


def desktop(home: Home, sandbox: Sandbox, others: int = 2, **extra: str) -> Path:
    """The settings in a config file (none in the environment), with ``others`` more profiles."""
    for name in list(home.env):
        if name.startswith("BIOPRODICT_"):
            del home.env[name]
    lines = [
        "[profiles.default]",
        f'token_url = "{sandbox.token_url}"',
        'client_id = "bp-demo"',
        f'client_secret = "{sandbox.clients["bp-demo"].secret}"',
        *(f"{key} = {value}" for key, value in extra.items()),
    ]
    for number in range(others):
        lines += [
            f"[profiles.team{number:03}]",
            f'token_url = "https://login{number}.example.org/oauth/token"',
            f'hosts = ["api{number}.example.org"]',
            'client_id = "c"',
            'client_secret = ""',
        ]
    return home.write_config("\n".join(lines) + "\n")


def git_get(home: Home, host: str, *args: str, **env: str) -> tuple[str, str]:
    done = run_bytes(home, GIT, [*args, "get"], f"protocol=https\nhost={host}\n\n".encode(), env)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode(), done.stderr.decode()


def cache_files(home: Home) -> list[Path]:
    return sorted((home.root / "state" / "bp-helper" / "config-cache").glob("*.json"))


def test_cached_get_with_a_config_file_parses_no_toml(sandbox: Sandbox, home: Home) -> None:
    desktop(home, sandbox)
    sign_in(home)
    first, _ = git_get(home, sandbox.netloc)  # parses the file and caches the parse
    assert "password=" in first
    out, report = git_get(home, sandbox.netloc, PYTHONPROFILEIMPORTTIME="1", **UNMEASURED)
    assert out == first
    modules = imported_modules(report)
    assert "bp_helper" in modules  # the report is real
    assert {"tomllib", "typing"}.isdisjoint(modules), sorted(modules & {"tomllib", "typing"})
    [cache] = cache_files(home)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    assert not cache.is_relative_to(home.store_dir)  # a file of its own, not the token store


def test_a_change_of_the_same_size_and_mtime_is_seen(sandbox: Sandbox, home: Home) -> None:
    """The classic trap of size+mtime keys: an edit within one mtime tick, same size."""
    config = desktop(home, sandbox, hosts=f'["{sandbox.netloc}", "{HOST_A}"]')
    sign_in(home)
    assert "password=" in git_get(home, HOST_A)[0]
    assert git_get(home, HOST_B)[0] == ""
    before = config.stat()
    config.write_text(config.read_text().replace(HOST_A, HOST_B))
    os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = config.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert git_get(home, HOST_A)[0] == ""
    assert "password=" in git_get(home, HOST_B)[0]


def test_a_corrupt_or_foreign_cache_is_ignored(sandbox: Sandbox, home: Home) -> None:
    config = desktop(home, sandbox)
    sign_in(home)
    answer, _ = git_get(home, sandbox.netloc)
    [cache] = cache_files(home)
    good = json.loads(cache.read_text())
    # A cache that would bind another host, if it were believed (it is, while it is ours).
    forged = json.loads(json.dumps(good))
    forged["hosts"][HOST_A] = ["default"]
    forged["profiles"]["default"]["hosts"] = [sandbox.netloc, HOST_A]
    cache.write_text(json.dumps(forged))
    assert "password=" in git_get(home, HOST_A)[0]  # the forged cache is read: a real check
    cache.chmod(0o644)  # ... but not when others could have written it
    assert git_get(home, HOST_A)[0] == ""
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600  # written anew
    for garbage in ("{not json", "[]", json.dumps({**good, "hosts": {HOST_A: "default"}})):
        cache.write_text(garbage)
        cache.chmod(0o600)
        out, err = git_get(home, sandbox.netloc)
        assert (out, err) == (answer, "")
        assert json.loads(cache.read_text()) == good
    assert good["config"] == str(config)


def _fnv1a_name(path: str) -> str:
    """An earlier release's cache file name (FNV-1a of the path): what an upgrade finds."""
    value = 0xCBF29CE484222325
    for byte in os.fsencode(path):
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}.json"


def test_a_cache_file_of_the_earlier_naming_is_never_read(sandbox: Sandbox, home: Home) -> None:
    config = desktop(home, sandbox)
    sign_in(home)
    git_get(home, sandbox.netloc)
    [cache] = cache_files(home)
    assert cache.name == cache_file_name(str(config))
    # What the earlier naming left: a cache that would bind another host, if it were read.
    forged = json.loads(cache.read_text())
    forged["hosts"][HOST_A] = ["default"]
    forged["profiles"]["default"]["hosts"] = [sandbox.netloc, HOST_A]
    cache.unlink()
    stray = cache.with_name(_fnv1a_name(str(config)))
    stray.write_text(json.dumps(forged))
    stray.chmod(0o600)
    assert git_get(home, HOST_A)[0] == ""  # parsed from the file again, not from the stray
    assert "password=" in git_get(home, sandbox.netloc)[0]
    assert cache.exists() and json.loads(stray.read_text()) == forged  # the stray is left


def test_config_errors_are_the_same_with_and_without_the_cache(
    sandbox: Sandbox, home: Home
) -> None:
    desktop(home, sandbox)
    sign_in(home)
    broken = {
        "not TOML": "[profiles.default\n",
        "not tables": "profiles = 3\n",
        "a bad value": '[profiles.default]\ntimeout = "soon"\nclient_id = "bp-demo"\n',
        "a bad host": '[profiles.default]\nhosts = ["a b"]\n',
        "an unknown key": f'[profiles.default]\nclient_id = "bp-demo"\nbogus = 1\n'
        f'token_url = "{sandbox.token_url}"\n',
    }
    for what, text in broken.items():
        home.write_config(text)
        runs = []
        for _ in range(2):  # the first parses (and caches what parsed), the second may not
            for args in (["token"], ["--profile", "default", "token"]):
                done = home.bp(*args)
                runs.append((done.returncode, done.stdout, done.stderr))
            done = home.run(
                ["--profile", "default", "get"],
                input=f"protocol=https\nhost={sandbox.netloc}\n\n",
                program=GIT,
            )
            runs.append((done.returncode, done.stdout, done.stderr))
        assert runs[:3] == runs[3:], what
        assert any(err for _, _, err in runs), what  # each of them says something


def test_a_cached_get_resolves_only_the_profiles_bound_to_the_host(
    sandbox: Sandbox, home: Home
) -> None:
    desktop(home, sandbox, others=100)
    sign_in(home)
    git_get(home, sandbox.netloc)
    out, trace = git_get(home, sandbox.netloc, "--debug")
    assert "password=" in out
    resolved = [line for line in trace.splitlines() if "debug: setting hosts =" in line]
    assert len(resolved) == 1, trace  # the default profile's; not the 100 others
    out, trace = git_get(home, "api42.example.org", "--debug")
    assert out == ""  # bound to team042, which has no token: a hint, no answer
    assert "team042" in trace
    assert len([line for line in trace.splitlines() if "setting hosts =" in line]) == 1


def test_the_host_index_agrees_with_resolving_every_profile(tmp_path: Path) -> None:
    """The route, with the index, chooses what resolving every profile chooses."""
    config = tmp_path / "config.toml"
    config.write_text(
        """
[profiles.default]
client_id = "c"
[profiles.alpha]
token_url = "https://login.example.org:8443/oauth/token"
[profiles.beta]
hosts = ["API.example.org", "127.0.0.1:9999", "login.example.org:8443"]
[profiles.broken]
hosts = 7
[profiles.gamma]
token_url = "http://insecure.example.org/token"
[profiles.machine]
grant = "client_credentials"
token_url = "https://tenant.example.org/oauth/token"
[profiles.machine-api]
grant = "client_credentials"
token_url = "https://tenant.example.org/oauth/token"
hosts = ["predict.example.org"]
[profiles.nogrant]
grant = "implicit"
"""
    )
    environ = {"BIOPRODICT_CONFIG": str(config)}
    names = ["default", "alpha", "beta", "broken", "gamma", "machine", "machine-api", "nogrant"]
    cases = [
        ("https", "api.bio-prodict.nl"),
        ("https", "api.example.org"),
        ("https", "API.EXAMPLE.ORG:443"),
        ("http", "127.0.0.1:9999"),
        ("https", "login.example.org:8443"),
        ("https", "insecure.example.org"),
        ("http", "api.example.org"),
        ("https", "nowhere.example.org"),
        ("https", "bad host"),
        ("https", "tenant.example.org"),
        ("https", "predict.example.org"),
    ]
    grants = [{}, {"BIOPRODICT_GRANT": "password"}, {"BIOPRODICT_GRANT": "client_credentials"}]
    for grant in grants:
        env = {**environ, **grant}
        for scheme, netloc in cases:
            chosen = route(Settings(environ=env), scheme, netloc)
            expected = [n for n in names if _bound(Settings({"profile": n}, env), scheme, netloc)]
            assert (chosen.profile if chosen else None) == (expected[0] if expected else None), (
                grant,
                scheme,
                netloc,
            )


def _bound(settings: Settings, scheme: str, netloc: str) -> bool:
    from bp_helper.config.hosts import is_bound

    try:
        return is_bound(settings, scheme, netloc)
    except BpError:
        return False


def test_a_value_json_cannot_keep_is_not_cached(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.default]\nclient_id = "c"\ntimeout = 1979-05-27\n')
    errors = []
    for _ in range(2):
        settings = Settings(environ={"BIOPRODICT_CONFIG": str(config)})
        assert settings.value("client_id") == "c"
        with pytest.raises(ConfigError) as raised:
            settings.value("timeout")
        errors.append(raised.value.message)
        cache = ConfigCache(settings.store_dir, config)
        assert not cache.path.exists()
    assert errors[0] == errors[1] and "must be a number of seconds" in errors[0]
    config.write_text('[profiles.default]\nclient_id = "c"\nborn = 1979-05-27\n')
    for _ in range(2):  # parsed and cached, then read from the cache
        settings = Settings(environ={"BIOPRODICT_CONFIG": str(config)})
        assert settings.value("client_id") == "c"
    assert cache.path.exists()
    assert settings.parsed_config.withheld
    assert settings.parsed_config.profiles["default"]["born"] is None  # the value is not kept


def test_the_cache_holds_no_secret_and_a_refresh_still_has_it(sandbox: Sandbox, home: Home) -> None:
    desktop(home, sandbox, client_secret_typo='"canary-typo-value"')
    sign_in(home)
    git_get(home, sandbox.netloc)
    [cache] = cache_files(home)
    kept = cache.read_text()
    assert "client_secret" in kept  # it says the key is there ...
    for secret in (sandbox.clients["bp-demo"].secret, "canary-typo-value"):
        assert secret not in kept  # ... but not its value, nor an unknown key's
    expire_stored_token(home)
    out, err = git_get(home, sandbox.netloc)  # a refresh: the secret is read from the file
    assert "password=" in out, err
    (refresh,) = sandbox.token_requests("refresh_token")
    assert refresh.status == 200
