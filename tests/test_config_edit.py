"""`bp-helper config set|get|unset|list|path`: the config file without an editor."""

from __future__ import annotations

import os
import select
import subprocess
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bp_helper.config.table import SETTINGS

from .support import Home, executable, one_line_error, read_until, run_together, spawn_with_terminal

HAND_WRITTEN = """# my bp-helper config
[other]
x = 1  # not ours

[profiles.default]
client_id = "old"   # from the welcome mail
timeout = 20

# the staging server
[profiles.staging]
token_url = "https://staging.example.org/oauth/token"
"""


@pytest.fixture
def bare(tmp_path: Path) -> Home:
    """A home with no bp-helper environment at all (as a new user has)."""
    return Home.make(tmp_path / "bare")


def config_file(home: Home) -> str:
    return str(home.root / "config" / "bp-helper" / "config.toml")


def read(path: str) -> str:
    return Path(path).read_text()


def test_set_creates_folder_and_file_and_status_uses_it(bare: Home) -> None:
    done = bare.bp("config", "set", "client_id", "my-client")
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout
        == f'Set client_id = "my-client" in [profiles.default] of {config_file(bare)}.\n'
    )
    assert bare.bp("config", "path").stdout == config_file(bare) + "\n"
    text = read(config_file(bare))
    assert text == '[profiles.default]\nclient_id = "my-client"\n'
    assert os.stat(os.path.dirname(config_file(bare))).st_mode & 0o777 == 0o700
    assert bare.bp("config", "get", "client_id").stdout == "my-client\n"
    status = bare.bp("status")
    assert "my-client" in status.stdout


def test_edits_keep_comments_order_and_other_tables(bare: Home) -> None:
    path = bare.write_config(HAND_WRITTEN)
    assert bare.bp("config", "set", "client_id", "new").returncode == 0
    assert bare.bp("config", "set", "hosts", "a.example.org, b.example.org:8443").returncode == 0
    assert bare.bp("--profile", "staging", "config", "set", "timeout", "7.5").returncode == 0
    assert bare.bp("config", "unset", "timeout").returncode == 0
    assert path.read_text() == HAND_WRITTEN.replace('"old"', '"new"').replace(
        "timeout = 20\n", 'hosts = ["a.example.org", "b.example.org:8443"]\n'
    ).replace('oauth/token"\n', 'oauth/token"\ntimeout = 7.5\n')
    listed = bare.bp("config", "list").stdout.splitlines()
    assert listed == [
        "profiles.default.client_id=new",
        "profiles.default.hosts=a.example.org,b.example.org:8443",
        "profiles.staging.token_url=https://staging.example.org/oauth/token",
        "profiles.staging.timeout=7.5",
    ]
    only = bare.bp("--profile", "staging", "config", "list").stdout.splitlines()
    assert only == listed[2:]
    unset_again = bare.bp("config", "unset", "timeout")
    assert unset_again.returncode == 0 and "was not set" in unset_again.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("timeout", "soon"), "timeout (from the config command) must be a number of seconds"),
        (("timeout", "0"), "between 0 and 86400"),
        (("token_url", "http://example.org/token"), "must be an https:// URL"),
        (("refresh_token_storage", "cloud"), 'must be "file" or "keyring"'),
        (("tiemout", "3"), "unknown config key 'tiemout': did you mean 'timeout'?"),
        (("--profile", "bad name", "client_id", "x"), "invalid profile name"),
        (("client_id",), "give a value"),
    ],
)
def test_values_are_checked_like_the_resolver_checks_them(
    bare: Home, args: tuple[str, ...], says: str
) -> None:
    path = bare.write_config(HAND_WRITTEN)
    if args[0] == "--profile":
        done = bare.bp(args[0], args[1], "config", "set", *args[2:])
    else:
        done = bare.bp("config", "set", *args)
    assert done.returncode == 2
    assert says in one_line_error(done)
    assert path.read_text() == HAND_WRITTEN


def test_a_bad_value_is_said_to_be_for_the_config(bare: Home) -> None:
    done = bare.bp("config", "set", "timeout", "abc")
    assert done.returncode == 2
    line = one_line_error(done)
    assert "timeout (from the config command) must be a number of seconds" in line
    assert "command line" not in line


def test_every_config_key_of_the_table_is_settable() -> None:
    from bp_helper.commands.options import CONFIG_KEYS

    assert set(CONFIG_KEYS) == {s.key for s in SETTINGS if s.key}


def test_a_secret_on_the_command_line_is_refused_without_echo(bare: Home) -> None:
    done = bare.bp("config", "set", "client_secret", "hunter2-canary")
    assert done.returncode == 2
    line = one_line_error(done)
    assert "hunter2-canary" not in done.stdout + done.stderr
    assert "standard input" in line
    assert not os.path.exists(config_file(bare))


def test_a_secret_from_stdin_makes_the_file_private(bare: Home) -> None:
    path = bare.write_config('[profiles.default]\nclient_id = "c"\n')
    path.chmod(0o644)
    done = bare.bp("config", "set", "client_secret", input="s3cret-canary\n")
    assert done.returncode == 0, done.stderr
    assert "s3cret-canary" not in done.stdout + done.stderr
    assert "client_secret = ****nary" in done.stdout
    assert path.stat().st_mode & 0o777 == 0o600
    assert (
        tomllib.loads(path.read_text())["profiles"]["default"]["client_secret"] == "s3cret-canary"
    )
    got = bare.bp("config", "get", "client_secret")
    assert got.returncode == 2 and "s3cret-canary" not in got.stdout + got.stderr


def test_a_secret_at_a_terminal_is_asked_without_echo(bare: Home) -> None:
    """With the terminal as stdin, the secret is asked on it, naming the profile."""
    proc, master = spawn_with_terminal(
        bare, ["config", "set", "client_secret"], terminal_stdin=True
    )
    try:
        shown = read_until(master, b"(not shown): ")
        assert b"client secret for profile 'default'" in shown
        os.write(master, b"typed-canary\n")
        out, err = proc.communicate(timeout=60)
        echoed = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            echoed += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert b"typed-canary" not in echoed + out + err
    assert tomllib.loads(read(config_file(bare)))["profiles"]["default"] == {
        "client_secret": "typed-canary"
    }


def test_mistakes_in_a_hand_written_file_are_named(bare: Home) -> None:
    bare.write_config('[profile.default]\nclient_id = "x"\n')
    done = bare.bp("status")
    assert done.returncode == 2
    assert "[profile.default] should be [profiles.default]" in one_line_error(done)
    bare.write_config('client_id = "x"\n[profiles.default]\n')
    done = bare.bp("token")
    assert done.returncode == 2
    assert "client_id is outside any table" in one_line_error(done)


def test_an_edit_this_editor_cannot_make_safely_is_refused(bare: Home) -> None:
    text = '[profiles]\ndefault.client_id = "x"\n'
    path = bare.write_config(text)
    done = bare.bp("config", "set", "client_id", "y")
    assert done.returncode == 2
    assert "edit the file by hand" in one_line_error(done)
    assert path.read_text() == text


# -- the client secret ---------------------------------------------------------------------


def test_empty_input_keeps_the_stored_client_secret(bare: Home) -> None:
    path = bare.write_config('[profiles.default]\nclient_secret = "kept-secret-canary"\n')
    path.chmod(0o600)
    empty = bare.bp("config", "set", "client_secret", input="")  # as with </dev/null
    assert empty.returncode == 2
    line = one_line_error(empty)
    assert "kept" in line and "config unset client_secret" in line
    assert "kept-secret-canary" not in empty.stdout + empty.stderr
    assert tomllib.loads(path.read_text())["profiles"]["default"]["client_secret"] == (
        "kept-secret-canary"
    )
    bare.bp("config", "unset", "client_secret")
    first = bare.bp("config", "set", "client_secret", input="")  # nothing to lose: "" is valid
    assert first.returncode == 0, first.stderr
    assert "client_secret = (empty)" in first.stdout


def test_enter_at_the_prompt_keeps_the_secret_it_shows_the_end_of(bare: Home) -> None:
    """As `aws configure` does: the prompt shows the last 4 characters, Enter keeps it."""
    path = bare.write_config('[profiles.default]\nclient_secret = "kept-secret-WXYZ"\n')
    path.chmod(0o600)
    proc, master = spawn_with_terminal(
        bare, ["config", "set", "client_secret"], terminal_stdin=True
    )
    try:
        shown = read_until(master, b"not shown): ")
        os.write(master, b"\n")
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    assert b"(now ****WXYZ, Enter keeps it; not shown)" in shown
    assert proc.returncode == 0, err
    assert b"unchanged (****WXYZ)" in out and b"kept-secret" not in out + err
    assert tomllib.loads(path.read_text())["profiles"]["default"]["client_secret"] == (
        "kept-secret-WXYZ"
    )


def test_a_set_secret_is_shown_by_its_last_four_characters(bare: Home) -> None:
    done = bare.bp("config", "set", "client_secret", input="s3cret-canary-WXYZ\n")
    assert done.returncode == 0, done.stderr
    assert "client_secret = ****WXYZ" in done.stdout
    assert "s3cret-canary" not in done.stdout + done.stderr
    short = bare.bp("config", "set", "client_secret", input="abcde\n")
    assert "client_secret = (set)" in short.stdout and "bcde" not in short.stdout


# -- profiles: their tables come and go ------------------------------------------------------


def test_unsetting_the_last_key_removes_the_empty_table(bare: Home) -> None:
    path = bare.write_config(HAND_WRITTEN)
    done = bare.bp("--profile", "staging", "config", "unset", "token_url")
    assert done.returncode == 0, done.stderr
    assert "[profiles.staging]" not in path.read_text()
    assert path.read_text() == HAND_WRITTEN.split("\n# the staging server")[0]


def test_unset_all_deletes_a_profile(bare: Home) -> None:
    path = bare.write_config(HAND_WRITTEN)
    done = bare.bp("--profile", "default", "config", "unset", "--all")
    assert done.returncode == 0, done.stderr
    assert "Removed [profiles.default]" in done.stdout
    assert tomllib.loads(path.read_text()) == {
        "other": {"x": 1},
        "profiles": {"staging": {"token_url": "https://staging.example.org/oauth/token"}},
    }
    assert "# the staging server\n[profiles.staging]" in path.read_text()
    again = bare.bp("--profile", "default", "config", "unset", "--all")
    assert again.returncode == 0 and "was not in" in again.stdout
    key = bare.bp("config", "unset", "--all", "timeout")
    assert key.returncode == 2 and "--all" in one_line_error(key)


# -- the config file and its folder: created private, trusted only when it is ours ----------


def test_missing_parents_are_created_private_whatever_the_umask(bare: Home) -> None:
    done = subprocess.run(
        ["sh", "-c", 'umask 000 && exec "$0" config set client_id x', executable("bp-helper")],
        capture_output=True,
        text=True,
        env=bare.env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for folder in (bare.root / "config", bare.root / "config" / "bp-helper"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder


@pytest.mark.parametrize("what", ["folder-owner", "file-owner", "folder-mode", "file-mode"])
def test_a_config_someone_else_controls_is_refused(bare: Home, what: str) -> None:
    marker = bare.root / "ran"
    text = f'[profiles.default]\nclient_secret_command = ["touch", "{marker}"]\n'
    path = bare.write_config(text)
    target = path.parent if what.startswith("folder") else path
    if what.endswith("owner"):
        os.chown(target, 65534, 65534)  # tests run as root: "nobody" is another user
    else:
        target.chmod(0o777 if what.startswith("folder") else 0o666)
    for args in (("token",), ("status",), ("config", "list"), ("config", "set", "timeout", "5")):
        done = bare.bp(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        line = one_line_error(done)
        assert str(target) in line
        assert ("owned by uid 65534" if what.endswith("owner") else "chmod go-w") in line
    assert not marker.exists()
    assert path.read_text() == text


# -- concurrent edits, symlinked files, what the file may be ---------------------------------


@pytest.mark.slow
def test_parallel_config_sets_lose_no_profile(bare: Home) -> None:
    run_together(
        bare, [["--profile", f"p{i}", "config", "set", "client_id", f"c{i}"] for i in range(20)]
    )
    profiles = tomllib.loads(read(config_file(bare)))["profiles"]
    assert profiles == {f"p{i}": {"client_id": f"c{i}"} for i in range(20)}


def test_a_symlinked_config_is_edited_through_the_link(bare: Home) -> None:
    dotfiles = bare.root / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "bp-helper.toml"
    real.write_text(HAND_WRITTEN)
    link = Path(config_file(bare))
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    done = bare.bp("config", "set", "client_id", "new")
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text() == HAND_WRITTEN.replace('"old"', '"new"')
    assert sorted(p.name for p in link.parent.iterdir()) == ["config.toml"]


def test_config_commands_read_only_a_regular_file_of_bounded_size(bare: Home) -> None:
    fifo = bare.root / "fifo.toml"
    os.mkfifo(fifo)
    big = bare.root / "big.toml"
    big.write_text("# padding\n" * 20000 + '[profiles.default]\nclient_id = "x"\n')  # 195 KiB
    for path in (fifo, Path("/dev/zero"), big):
        for args in (("list",), ("get", "client_id"), ("set", "timeout", "5")):
            done = bare.bp("config", *args, env={"BIOPRODICT_CONFIG": str(path)}, timeout=30)
            assert done.returncode == 2, (path, args, done.stderr)
            assert "not a regular file of at most" in one_line_error(done)
    assert "timeout" not in big.read_text()
    assert not list(Path("/dev").glob(".zero*")) and sorted(os.listdir(bare.root)) == [
        "big.toml",
        "fifo.toml",
    ]


def test_what_config_set_writes_it_can_edit_again(bare: Home) -> None:
    for value in ("line\u2028separator", "next\x85line", "para\u2029graph"):
        done = bare.bp("config", "set", "client_id", value)
        assert done.returncode == 0, done.stderr
        assert bare.bp("config", "get", "client_id").stdout == value + "\n"
        again = bare.bp("config", "set", "client_id", "plain")
        assert again.returncode == 0, again.stderr
    path = bare.write_config('[profiles.default]\nclient_id = "raw\u2028\x85"  # by hand\n')
    done = bare.bp("config", "set", "client_id", "edited")
    assert done.returncode == 0, done.stderr
    assert path.read_text() == '[profiles.default]\nclient_id = "edited"  # by hand\n'


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_any_value_written_is_read_back_and_can_be_replaced(first: str, second: str) -> None:
    """The editor's own property, in process: what it writes parses to the value, and the
    key stays editable whatever the value held."""
    from bp_helper.config import toml_edit

    text = toml_edit.edit(HAND_WRITTEN, "staging", "client_id", first, "config.toml")
    assert tomllib.loads(text)["profiles"]["staging"]["client_id"] == first
    again = toml_edit.edit(text, "staging", "client_id", second, "config.toml")
    assert tomllib.loads(again)["profiles"]["staging"]["client_id"] == second
    gone = toml_edit.edit(again, "staging", "client_id", None, "config.toml")
    assert gone == HAND_WRITTEN


def test_an_argument_that_is_not_utf8_is_one_line_error(bare: Home) -> None:
    path = bare.write_config(HAND_WRITTEN)
    done = bare.bp("config", "set", "client_id", "bad\udcff")  # the bytes b"bad\xff" in argv
    assert done.returncode == 2
    assert "not valid UTF-8" in one_line_error(done)
    assert path.read_text() == HAND_WRITTEN
    key = bare.bp("config", "get", "client\udcff")
    assert key.returncode == 2 and "not valid UTF-8" in one_line_error(key)
