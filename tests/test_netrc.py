"""`bp-helper netrc`: entries for the bound hosts, merged into a file curl and Python both read."""

from __future__ import annotations

import base64
import importlib
import netrc
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bp_helper.errors import BpError
from bp_helper.testing import Sandbox

from .integration_support import Recorder, login, run_curl
from .support import Home, one_line_error

EXISTING = """\
# my credentials
machine ftp.example.org login anonymous password "guest at example"
  account acct # a trailing comment

macdef init
cd /pub
machine inside.macro.example login no password no

machine {host}
  # an old entry for the sandbox host
  login someone password old-secret
machine {host} login duplicate password duplicate
default login anonymous password fallback
"""


def netrc_module() -> Any:
    return importlib.import_module("bp_helper_integrations.netrc")


def parsed(path: Path) -> netrc.netrc:
    return netrc.netrc(str(path))


def test_prints_one_entry_per_bound_machine(sandbox: Sandbox, home: Home) -> None:
    token = login(home)
    home.env["BIOPRODICT_HOSTS"] = f"{sandbox.netloc},127.0.0.1:1,api.example.org"
    done = home.bp("netrc")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"machine 127.0.0.1 login alice password {token}",
        f"machine api.example.org login alice password {token}",
    ]
    path = home.root / "printed.netrc"
    path.write_text(done.stdout)
    assert parsed(path).authenticators("api.example.org") == ("alice", "", token)


def test_merge_keeps_other_entries_macros_and_comments(sandbox: Sandbox, home: Home) -> None:
    token = login(home)
    path = home.root / ".netrc"
    original = EXISTING.format(host="127.0.0.1")
    path.write_text(original)
    path.chmod(0o644)
    done = home.bp("netrc", "--output", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    merged = path.read_text()
    entry = f"machine 127.0.0.1 login alice password {token}"
    assert merged == original.replace(
        "machine 127.0.0.1\n  # an old entry for the sandbox host\n"
        "  login someone password old-secret\n",
        f"# an old entry for the sandbox host\n{entry}\n",
    ).replace("machine 127.0.0.1 login duplicate password duplicate\n", "\n")
    result = parsed(path)
    assert result.hosts["127.0.0.1"] == ("alice", "", token)
    assert result.hosts["ftp.example.org"] == ("anonymous", "acct", "guest at example")
    assert result.hosts["default"] == ("anonymous", "", "fallback")
    assert "inside.macro.example" not in result.hosts
    macro = ["cd /pub\n", "machine inside.macro.example login no password no\n"]
    assert result.macros["init"] == macro
    # again: nothing changes but the token
    assert home.bp("netrc", "--output", str(path)).returncode == 0
    assert path.read_text() == merged


def test_new_entries_go_before_default(sandbox: Sandbox, home: Home) -> None:
    token = login(home)
    path = home.root / "netrc"
    path.write_text("machine a.example login a password a\ndefault login x password y")
    assert home.bp("netrc", "--output", str(path)).returncode == 0
    assert path.read_text() == (
        "machine a.example login a password a\n"
        f"machine 127.0.0.1 login alice password {token}\n"
        "default login x password y"
    )
    fresh = home.root / "new" / "netrc"
    fresh.parent.mkdir()
    assert home.bp("netrc", "--output", str(fresh)).returncode == 0
    assert parsed(fresh).hosts == {"127.0.0.1": ("alice", "", token)}


def test_a_file_that_is_not_netrc_is_left_alone(sandbox: Sandbox, home: Home) -> None:
    login(home)
    path = home.root / "netrc"
    path.write_text('machine a.example login a password "unclosed\n')
    done = home.bp("netrc", "--output", str(path))
    assert done.returncode == 1
    assert "not in netrc format" in one_line_error(done)
    assert path.read_text() == 'machine a.example login a password "unclosed\n'
    missing = home.bp("netrc", "--output", str(home.root / "no" / "such" / "netrc"))
    assert missing.returncode == 2 and "does not exist" in one_line_error(missing)


def test_real_curl_sends_exactly_those_credentials(sandbox: Sandbox, home: Home) -> None:
    token = login(home)
    sandbox.accept_basic_token = True
    path = home.root / "netrc"
    path.write_text("machine other.example login x password y\n")
    assert home.bp("netrc", "--output", str(path)).returncode == 0
    done = run_curl(home, "-sS", "--fail", "--netrc-file", str(path), sandbox.api_url + "basic")
    assert done.returncode == 0, done.stderr
    (seen,) = sandbox.api_requests
    expected = base64.b64encode(f"alice:{token}".encode()).decode()
    assert seen.headers["authorization"] == f"Basic {expected}"


def test_help_says_basic_auth_and_points_to_curl_config(home: Home) -> None:
    helped = home.bp("netrc", "--help")
    assert "Basic auth" in helped.stdout and "curl-config" in helped.stdout


# Values as a token store could hold them: anything printable, quotes and spaces included.
values = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
    min_size=1,
    max_size=40,
)


@given(login_name=values, password=values)
def test_quoting_round_trips_through_python_netrc(
    tmp_path_factory: Any, login_name: str, password: str
) -> None:
    quote = netrc_module().quote
    path = tmp_path_factory.mktemp("q") / "netrc"
    path.write_text(f"machine h.example login {quote(login_name)} password {quote(password)}\n")
    path.chmod(0o600)
    assert parsed(path).authenticators("h.example") == (login_name, "", password)


def test_quoting_is_read_the_same_by_curl(home: Home) -> None:
    quote = netrc_module().quote
    cases = [('us er"\\x', 'p a"ss\\#1'), ("plain", "#hash"), ("ünï", "spa ce")]
    with Recorder() as server:
        for login_name, password in cases:
            path = home.root / "quoted.netrc"
            path.write_text(
                f"machine 127.0.0.1 login {quote(login_name)} password {quote(password)}\n"
            )
            done = run_curl(home, "-sS", "--netrc-file", str(path), server.url)
            assert done.returncode == 0, done.stderr
            sent = server.seen[-1].headers["authorization"].removeprefix("Basic ")
            assert base64.b64decode(sent).decode() == f"{login_name}:{password}"
            assert parsed(path).authenticators("127.0.0.1") == (login_name, "", password)


def test_control_characters_are_refused() -> None:
    quote = netrc_module().quote
    for bad in ("new\nline", "tab\there", "nul\0"):
        with pytest.raises(BpError, match="control characters"):
            quote(bad)
