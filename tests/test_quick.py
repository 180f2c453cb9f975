"""The cached path (bp_helper.quick): what it imports, that its rules are the full path's,
and that every request it does not answer reaches the full path, with the same outcome.

The protocol tests run against both paths (the ``helper_path`` fixture in conftest.py);
these tests add what those cannot see: which path answered.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bp_helper import basics, quick, waiting
from bp_helper.config import quick_table, table
from bp_helper.config.hosts import bound_form, netloc_of, normalize_host
from bp_helper.engine.store import TokenStore
from bp_helper.protocols import docker, rules
from bp_helper.testing import Sandbox
from bp_helper.tokens import StoredToken

from .concurrency_support import blocked_on
from .protocol_support import DOCKER, GIT, git_request
from .support import (
    UNMEASURED,
    Home,
    executable,
    expire_stored_token,
    imported_modules,
    sign_in,
)

# What a cached get may import beyond what `python -c pass` does, and nothing else.
ALLOWED = frozenset(
    {
        "bp_helper",
        "bp_helper.version",
        "bp_helper.quick",
        "bp_helper.basics",
        "bp_helper.process",
        "bp_helper.config",
        "bp_helper.config.quick_table",
        "bp_helper.protocols",
        "bp_helper.protocols.rules",
        "_json",  # the C scanner and encoder, without json (which imports re)
        "resource",  # no core dumps
    }
)
BP = "bp-helper"
FULL = {
    GIT: "bp_helper.protocols.git",
    DOCKER: "bp_helper.protocols.docker",
    BP: "bp_helper.commands.cli",
}


class Run:
    """One run of an installed helper under ``-X importtime``."""

    def __init__(self, done: subprocess.CompletedProcess[bytes]) -> None:
        report = done.stderr.decode("utf-8", "replace")
        self.modules = imported_modules(report)
        self.status = done.returncode
        self.stdout = done.stdout
        self.stderr = [line for line in report.splitlines() if not line.startswith("import time:")]

    @property
    def outcome(self) -> tuple[int, bytes, list[str]]:
        return self.status, self.stdout, self.stderr


def run(
    home: Home, program: str, args: list[str], data: bytes, env: dict[str, str] | None = None
) -> Run:
    return Run(
        subprocess.run(
            [sys.executable, "-X", "importtime", executable(program), *args],
            input=data,
            capture_output=True,
            env={**home.env, **UNMEASURED, **(env or {})},
            timeout=60,
            start_new_session=True,
            check=False,
            cwd=home.root,
        )
    )


def baseline(home: Home) -> set[str]:
    """What ``python -c pass`` imports in the same environment."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"],
        capture_output=True,
        text=True,
        env={**home.env, **UNMEASURED},
        check=True,
        cwd=home.root,
    )
    return imported_modules(done.stderr)


def config_file(sandbox: Sandbox, home: Home) -> None:
    """Settings from a config file of three profiles instead of the environment."""
    client = sandbox.clients["bp-demo"]
    lines = [
        "[profiles.default]",
        f'token_url = "{sandbox.token_url}"',
        'client_id = "bp-demo"',
        f'client_secret = "{client.secret}"',
        f'ca_bundle = "{sandbox.ca_path}"',
    ]
    for number in (1, 2):
        lines += [
            f"[profiles.team{number}]",
            f'token_url = "https://login{number}.example.org/oauth/token"',
            f'hosts = ["api{number}.example.org", "data{number}.example.org:8443"]',
            f'client_id = "client-{number}"',
        ]
    home.write_config("\n".join(lines) + "\n")
    for name in list(home.env):
        if name.startswith("BIOPRODICT_"):
            del home.env[name]


@pytest.mark.parametrize("settings_from", ["environment", "config file"])
def test_a_cached_get_imports_only_its_allow_list(
    sandbox: Sandbox, home: Home, settings_from: str
) -> None:
    sign_in(home)
    if settings_from == "config file":
        config_file(sandbox, home)
        first = run(home, GIT, ["get"], git_request(sandbox))  # parses it, keeps the parse
        assert FULL[GIT] in first.modules and b"password=" in first.stdout
    before = baseline(home)
    token = home.stored()["access_token"]
    for program, args, data in (
        (GIT, ["get"], git_request(sandbox)),
        (DOCKER, ["get"], sandbox.netloc.encode()),
        (BP, ["token"], b""),
    ):
        done = run(home, program, args, data)
        assert done.status == 0 and done.stderr == [], done.stderr
        assert token.encode() in done.stdout
        assert "bp_helper.quick" in done.modules  # the report is real
        assert done.modules - before <= ALLOWED, sorted(done.modules - before - ALLOWED)
        assert FULL[program] not in done.modules  # the full path is not even imported
        assert "re" not in done.modules - before


def _expired(sandbox: Sandbox, home: Home) -> None:
    expire_stored_token(home)


def _readable_by_others(sandbox: Sandbox, home: Home) -> None:
    home.store_file().chmod(0o644)


def _logged_out(sandbox: Sandbox, home: Home) -> None:
    home.store_file().unlink()


def _config_not_yet_cached(sandbox: Sandbox, home: Home) -> None:
    config_file(sandbox, home)


def _foreign_token(sandbox: Sandbox, home: Home) -> None:
    home.env["BIOPRODICT_TOKEN_URL"] = sandbox.token_url.replace("/oauth/", "/other/")


def _plain_http_token_url(sandbox: Sandbox, home: Home) -> None:
    """A token URL the settings refuse, which the token file names all the same."""
    url = sandbox.token_url.replace("https://", "http://")
    data = home.stored()
    home.store_file().write_text(json.dumps({**data, "token_url": url}))
    home.env.update(BIOPRODICT_TOKEN_URL=url, BIOPRODICT_HOSTS=sandbox.netloc)


def _nothing(sandbox: Sandbox, home: Home) -> None:
    pass


GET_REQUEST = "protocol=https\nhost={netloc}\n"
MISSES: dict[str, tuple[Callable[[Sandbox, Home], None], str, list[str], str]] = {
    # name: (setup, program, arguments, request: {netloc} is the sandbox's)
    "--debug": (_nothing, GIT, ["--debug", "get"], "protocol=https\nhost={netloc}\n"),
    "store": (_nothing, GIT, ["store"], "protocol=https\nhost={netloc}\npassword=x\n"),
    "expired token": (_expired, GIT, ["get"], "protocol=https\nhost={netloc}\n"),
    "token file others may read": (
        _readable_by_others,
        GIT,
        ["get"],
        "protocol=https\nhost={netloc}\n",
    ),
    "logged out": (_logged_out, GIT, ["get"], "protocol=https\nhost={netloc}\n"),
    "config file not yet cached": (
        _config_not_yet_cached,
        GIT,
        ["get"],
        "protocol=https\nhost={netloc}\n",
    ),
    "token of another token URL": (_foreign_token, GIT, ["get"], "protocol=https\nhost={netloc}\n"),
    "token URL the settings refuse": (_plain_http_token_url, GIT, ["get"], GET_REQUEST),
    "another user": (_nothing, GIT, ["get"], "protocol=https\nhost={netloc}\nusername=bob\n"),
    "plain http": (_nothing, GIT, ["get"], "protocol=http\nhost={netloc}\n"),
    "unbound host": (_nothing, GIT, ["get"], "protocol=https\nhost=example.org\n"),
    "host an URL parser must judge": (_nothing, GIT, ["get"], "protocol=https\nhost=[::1]:9\n"),
    "unknown profile": (
        _nothing,
        GIT,
        ["--profile", "nope", "get"],
        "protocol=https\nhost={netloc}\n",
    ),
    "line too long": (_nothing, GIT, ["get"], "protocol=https\nhost={netloc}\npath=" + "p" * 70000),
    "docker, http URL": (_nothing, DOCKER, ["get"], "http://{netloc}"),
    "docker, unbound": (_nothing, DOCKER, ["get"], "registry.example.org"),
    "docker, list": (_nothing, DOCKER, ["list"], ""),
    "docker, over the limit": (_nothing, DOCKER, ["get"], "a" * 70000),
    "token --json": (_nothing, BP, ["token", "--json"], ""),
    "token, expired": (_expired, BP, ["token"], ""),
    "token, logged out": (_logged_out, BP, ["token"], ""),
    "token, config file not yet cached": (_config_not_yet_cached, BP, ["token"], ""),
    "token, another profile": (_nothing, BP, ["--profile", "other", "token"], ""),
}


HEALED = (
    "expired token", "config file not yet cached", "token, expired",
    "token, config file not yet cached",
)  # fmt: skip


@pytest.mark.parametrize("case", sorted(MISSES))
def test_every_miss_falls_through_to_the_full_paths_answer(
    sandbox: Sandbox, home: Home, case: str
) -> None:
    setup, program, args, request = MISSES[case]
    sign_in(home)
    setup(sandbox, home)
    data = request.format(netloc=sandbox.netloc).encode()
    first = run(home, program, args, data)  # the cached path declines, the full one answers
    full = run(home, program, args, data, {quick.FULL_PATH: "1"})
    assert FULL[program] in first.modules
    if case == "--debug":  # the debug lines say how long things took
        assert first.outcome[:2] == full.outcome[:2]
    else:
        assert first.outcome == full.outcome
    if case in HEALED:  # the full path left a fresh token or a config cache: now a hit
        after = run(home, program, args, data)
        assert FULL[program] not in after.modules and after.outcome == full.outcome


GET = "protocol=https\nhost={netloc}\n"
HITS: dict[str, tuple[str, list[str], str, dict[str, str]]] = {
    # name: (program, arguments, request, environment)
    "hosts listed": (GIT, ["get"], GET, {"BIOPRODICT_HOSTS": "x.org, {netloc}"}),
    "username": (GIT, ["get"], "protocol=https\nhost={netloc}\nusername=alice\n", {}),
    "authtype": (GIT, ["get"], "protocol=https\nhost={netloc}\ncapability[]=authtype\n", {}),
    "basic challenge": (GIT, ["get"], GET + "capability[]=authtype\nwwwauth[]=Basic x\n", {}),
    "explicit profile": (GIT, ["--profile=default", "get"], "protocol=https\nhost={netloc}\n", {}),
    "docker URL": (DOCKER, ["get"], "https://{netloc}/v2/", {}),
    "token, profile in the environment": (BP, ["token"], "", {"BIOPRODICT_PROFILE": "default"}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(HITS))
def test_hits_answer_as_the_full_path(sandbox: Sandbox, home: Home, case: str) -> None:
    program, args, request, env = HITS[case]
    sign_in(home)
    data = request.format(netloc=sandbox.netloc).encode()
    env = {name: value.format(netloc=sandbox.netloc) for name, value in env.items()}
    hit = run(home, program, args, data, env)
    full = run(home, program, args, data, {**env, quick.FULL_PATH: "1"})
    assert FULL[program] not in hit.modules and FULL[program] in full.modules
    assert hit.outcome == full.outcome and hit.status == 0 and hit.stdout


def test_the_full_path_switch_takes_the_full_path(sandbox: Sandbox, home: Home) -> None:
    sign_in(home)
    full = run(home, GIT, ["get"], git_request(sandbox), {quick.FULL_PATH: "1"})
    quick_run = run(home, GIT, ["get"], git_request(sandbox))
    assert FULL[GIT] in full.modules and FULL[GIT] not in quick_run.modules
    assert full.outcome == quick_run.outcome and b"password=" in full.stdout


# -- the rules are the full path's --------------------------------------------------------------


def test_the_quick_table_is_the_settings_table() -> None:
    for name, value in table.quick_table_data().items():
        assert getattr(quick_table, name) == value, name


def test_the_token_fields_are_the_stored_tokens() -> None:
    assert tuple(basics.TOKEN_FIELDS) == StoredToken._fields
    assert (
        tuple(f for f in StoredToken._fields if f not in StoredToken._field_defaults)
        == basics.TOKEN_REQUIRED
    )


HOSTISH = st.text(st.sampled_from("aZ09.-:_@/[] \t\xe9\u0130"), max_size=14)


@given(HOSTISH)
def test_plain_host_agrees_with_normalize_host(value: str) -> None:
    plain = basics.plain_host(value)
    if plain is not None:
        assert plain == normalize_host(value)


@given(HOSTISH, st.sampled_from(["", "/", "/oauth/token", "?x", "#y"]))
def test_plain_netloc_agrees_with_netloc_of(value: str, rest: str) -> None:
    url = f"https://{value}{rest}"
    plain = basics.plain_netloc(url)
    if plain is not None:
        assert plain == netloc_of(url)


@given(st.sampled_from(["", "https://", "HTTPS://", "http://", "x://"]), HOSTISH, HOSTISH)
def test_the_docker_host_is_the_full_paths(scheme: str, value: str, rest: str) -> None:
    url = f"{scheme}{value}/{rest}" if rest else f"{scheme}{value}"
    try:
        checked = rules.server_text(url.encode())
        wanted = basics.plain_host(rules.docker_netloc(checked))
    except rules.Refused:
        return
    if wanted is not None:
        server = docker.parse_server(url.encode())
        assert bound_form(server.scheme, server.netloc) == wanted


@given(st.text(st.sampled_from("aZ09._-/ \xe9"), max_size=70))
def test_valid_profile_name_is_the_documented_pattern(name: str) -> None:
    pattern = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name)
    assert basics.valid_profile_name(name) == (pattern is not None)


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)),
       st.sampled_from(["", " ", "\n\t", " x", "\ufeff"]))  # fmt: skip
def test_the_c_scanner_reads_json_as_json_does(document: object, around: str) -> None:
    raw = (around + json.dumps(document) + around.strip("x\ufeff")).encode()
    try:
        expected = json.loads(raw)
    except ValueError:
        expected = ValueError
    try:
        found = basics.loads(raw)
    except Exception:
        return  # the full path reads it
    assert json.dumps(found, sort_keys=True) == json.dumps(expected, sort_keys=True)


@given(st.binary(min_size=1, max_size=4096), st.data())
def test_the_config_digest_sees_every_edit_of_one_byte(data: bytes, draw: st.DataObject) -> None:
    # what an edit within one tick of the clock that keeps the size must not slip past
    where = draw.draw(st.integers(0, len(data) - 1))
    byte = draw.draw(st.integers(0, 255).filter(lambda b: b != data[where]))
    edited = data[:where] + bytes([byte]) + data[where + 1 :]
    assert basics.digest(edited) != basics.digest(data)


@given(st.text(st.sampled_from("a/.~ "), max_size=10))
def test_plain_path_is_what_pathlib_makes_of_it(value: str) -> None:
    try:
        plain = quick._plain_path(value)
    except quick.Miss:
        return
    assert plain == str(Path(value).expanduser())


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine() != "x86_64",
    reason="watches /proc/PID/syscall for read(2), number 0 on x86-64 Linux",
)
@pytest.mark.parametrize("program", [GIT, DOCKER])
def test_interrupted_while_waiting_for_input_as_the_full_path(home: Home, program: str) -> None:
    """Ctrl-C before the request is complete: one line and exit 130 on either path."""
    outcomes = []
    for env in ({}, {quick.FULL_PATH: "1"}):
        proc = subprocess.Popen(
            [executable(program), "get"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**home.env, **env},
            cwd=home.root,
        )
        assert proc.stdin is not None
        proc.stdin.write(b"protocol=https\n")  # and then nothing: it waits for the rest
        proc.stdin.flush()
        signal_when_waiting(proc)
        out, err = proc.communicate(timeout=60)
        outcomes.append((proc.returncode, out, err))
    assert outcomes[0] == outcomes[1] == (130, b"", b"bp-helper: interrupted\n")


def signal_when_waiting(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT once the program blocks reading its standard input (not while it starts)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        syscall = Path(f"/proc/{proc.pid}/syscall").read_text().split()
        if syscall[:2] == ["0", "0x0"]:  # blocked in read(2) on fd 0 (x86-64, Linux)
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)


@pytest.mark.parametrize(
    ("change", "held"),
    [
        ({}, True),
        ({"profiles": {"a": []}}, False),
        ({"profiles": []}, False),
        ({"hosts": {"h": "a"}}, False),
        ({"hosts": {"h": ["a", 1]}}, False),
        ({"hosts": []}, False),
        ({"unsure": ["a", None]}, False),
        ({"unsure": {}}, False),
        ({"digest": 0}, False),
        ({"identity": [1, 2, 3, 4, 6]}, False),
        ({"config": "/elsewhere.toml"}, False),
        ({"version": 1}, False),  # the format before the digest
    ],
)
def test_the_config_cache_holds_only_a_well_formed_parse_of_that_file(
    change: dict[str, object], held: bool
) -> None:
    raw = b'[profiles.a]\nhosts = ["h"]\n'
    data = {
        "version": basics.CACHE_FORMAT, "config": "/c.toml", "identity": [1, 2, 3, 4, 5],
        "size": len(raw), "digest": basics.digest(raw), "profiles": {"a": {"hosts": ["h"]}},
        "hosts": {"h": ["a"]}, "unsure": [],
    }  # fmt: skip
    assert basics.cache_holds({**data, **change}, "/c.toml", raw, [1, 2, 3, 4, 5]) is held


# -- a caller that finds a refresh in progress waits for it here -----------------------------------


def start(home: Home, program: str, args: list[str], data: bytes) -> subprocess.Popen[bytes]:
    """An installed helper under ``-X importtime``, its request already on its stdin."""
    reading, writing = os.pipe()
    os.write(writing, data)
    os.close(writing)
    try:
        return subprocess.Popen(
            [sys.executable, "-X", "importtime", executable(program), *args],
            stdin=reading,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**home.env, **UNMEASURED},
            cwd=home.root,
            start_new_session=True,
        )
    finally:
        os.close(reading)


def asleep_on_the_lock(home: Home, proc: subprocess.Popen[bytes]) -> None:
    """Returns once ``proc`` sleeps in the kernel waiting for the profile's lock."""
    lock = home.store_dir / "default.lock"
    deadline = time.monotonic() + 60
    while not blocked_on(lock, {proc.pid}) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    assert blocked_on(lock, {proc.pid}), "the caller never slept on the profile's lock"


def finished(proc: subprocess.Popen[bytes]) -> Run:
    out, err = proc.communicate(timeout=60)
    return Run(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))


WAITERS = {GIT: (["get"], "protocol=https\nhost={netloc}\n"), BP: (["token"], "")}


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
@pytest.mark.parametrize("program", sorted(WAITERS))
def test_a_caller_that_finds_a_refresh_in_progress_waits_for_it_on_the_cached_path(
    sandbox: Sandbox, home: Home, program: str
) -> None:
    """The token is due and another process holds the profile's lock: the caller sleeps on
    the lock without the full path and answers with the token the holder stored."""
    sign_in(home)
    before = expire_stored_token(home)
    sandbox.reset_counters()
    args, request = WAITERS[program]
    store = TokenStore(home.store_dir, "default")
    now = time.time()
    new = before._replace(
        access_token="the-new-access-token", expires_at=now + 3600, obtained_at=now
    )
    with store.lock(30):  # as a refreshing process holds it
        proc = start(home, program, args, request.format(netloc=sandbox.netloc).encode())
        asleep_on_the_lock(home, proc)
        store.save(new)
    done = finished(proc)
    assert done.status == 0 and done.stderr == [], done.stderr
    assert b"the-new-access-token" in done.stdout
    assert "bp_helper.waiting" in done.modules  # it waited here ...
    assert FULL[program] not in done.modules  # ... and never imported the full path
    assert sandbox.requests == []


@pytest.mark.slow  # the lock's timeout is waited out (10 s at the least)
@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_a_caller_that_waited_out_the_lock_on_the_cached_path_does_not_wait_again(
    sandbox: Sandbox, home: Home
) -> None:
    """The holder keeps the lock past its timeout: the caller waited that long on the cached
    path, and the full path says so at once rather than wait the whole timeout again."""
    network_timeout = 0.1
    lock_timeout = waiting.lock_timeout(network_timeout)
    home.write_config(f"[profiles.default]\ntimeout = {network_timeout}\n")
    sign_in(home)
    assert run(home, BP, ["token"], b"").status == 0  # the config is cached: the cached path
    expire_stored_token(home)  # reads it
    sandbox.reset_counters()
    with TokenStore(home.store_dir, "default").lock(10 * lock_timeout):  # a holder that hangs
        started = time.monotonic()
        proc = start(home, BP, ["token"], b"")
        asleep_on_the_lock(home, proc)
        done = finished(proc)
        took = time.monotonic() - started
    assert done.status != 0 and done.stdout == b""
    assert "bp_helper.waiting" in done.modules and FULL[BP] in done.modules
    assert re.search(r"another bp-helper process has held .* for over \d+ s", done.stderr[-1])
    assert lock_timeout <= took < 1.5 * lock_timeout  # one timeout, not the cached path's + one
    assert sandbox.requests == []


@pytest.mark.parametrize("program", sorted(WAITERS))
def test_a_cached_hit_imports_no_lock_waiting(sandbox: Sandbox, home: Home, program: str) -> None:
    sign_in(home)
    args, request = WAITERS[program]
    done = run(home, program, args, request.format(netloc=sandbox.netloc).encode())
    assert done.status == 0 and FULL[program] not in done.modules
    assert not {"bp_helper.waiting", "fcntl", "threading"} & done.modules


@pytest.mark.parametrize("program", sorted(WAITERS))
def test_a_due_token_and_a_free_lock_go_to_the_full_path_without_waiting(
    sandbox: Sandbox, home: Home, program: str
) -> None:
    """Nobody is refreshing: the full path refreshes, as before."""
    sign_in(home)
    before = expire_stored_token(home)
    sandbox.reset_counters()
    args, request = WAITERS[program]
    done = run(home, program, args, request.format(netloc=sandbox.netloc).encode())
    assert done.status == 0 and FULL[program] in done.modules
    assert [(r.grant_type, r.status) for r in sandbox.requests] == [("refresh_token", 200)]
    assert home.stored()["access_token"] != before.access_token
    assert home.stored()["access_token"].encode() in done.stdout


GATE = '''"""Test-only: importing $BP_TEST_GATE_MODULE waits until the file $BP_TEST_GATE exists."""
import os
import sys
import time


class Gate:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ.get("BP_TEST_GATE_MODULE"):
            while not os.path.exists(os.environ["BP_TEST_GATE"]):
                time.sleep(0.01)
        return None


sys.meta_path.insert(0, Gate())
'''


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_the_caller_that_refreshes_takes_the_lock_before_it_imports_the_full_path(
    sandbox: Sandbox, home: Home, tmp_path: Path
) -> None:
    """The first caller on a due token takes the profile's lock on the cached path and hands
    it to the full path: whoever comes while it imports the full path finds the lock held
    and waits on the cached path (rather than import the full path too, to wait there)."""
    sign_in(home)
    expire_stored_token(home)
    sandbox.reset_counters()
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "sitecustomize.py").write_text(GATE)
    opened = tmp_path / "open"
    gated = {
        "PYTHONPATH": str(tmp_path / "gate"),
        "BP_TEST_GATE_MODULE": FULL[GIT],
        "BP_TEST_GATE": str(opened),
    }
    first = start(Home(home.root, {**home.env, **gated}), GIT, ["get"], git_request(sandbox))
    try:
        lock = home.store_dir / "default.lock"
        deadline = time.monotonic() + 60
        while first.pid not in holders_of(lock) and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()
            time.sleep(0.02)
        assert first.pid in holders_of(lock), "the first caller imports the full path unlocked"
        second = start(home, BP, ["token"], b"")
        asleep_on_the_lock(home, second)
    finally:
        opened.touch()  # never leave it waiting at the gate
    refreshed, waited = finished(first), finished(second)
    token = home.stored()["access_token"]
    assert refreshed.status == 0 and f"password={token}".encode() in refreshed.stdout
    assert FULL[GIT] in refreshed.modules
    assert waited.outcome == (0, f"{token}\n".encode(), [])
    assert FULL[BP] not in waited.modules and "bp_helper.waiting" in waited.modules
    assert [(r.grant_type, r.status) for r in sandbox.requests] == [("refresh_token", 200)]


def holders_of(lock_file: Path) -> set[int]:
    """The processes that hold an flock of ``lock_file`` (not those waiting for one)."""
    inode = str(lock_file.stat().st_ino)
    found = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == inode:
            found.add(int(fields[4]))
    return found
