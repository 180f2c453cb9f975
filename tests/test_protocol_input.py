"""The protocol parsers and printers on their own, hostile input, and fuzzing of both parsers."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
from collections.abc import Iterator

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from bp_helper.errors import BpError
from bp_helper.protocols import docker, git
from bp_helper.protocols.wire import MAX_LINE, InvalidRequest, read_lines
from bp_helper.testing import Sandbox
from bp_helper.tokens import StoredToken

from .protocol_support import DOCKER, GIT, assert_refused, run_bytes
from .support import Home, executable, sign_in

# The tests that run the executables run against the cached path and the full path (see
# helper_path in conftest.py); the fuzzers call the parsers in-process.
both_paths = pytest.mark.usefixtures("helper_path")

TOKEN = StoredToken(
    access_token="eyJ.access",
    expires_at=1_900_000_000.75,
    obtained_at=1_899_990_000.0,
    username="alice",
    token_url="https://api.bio-prodict.nl/oauth/oauth/token",
    client_id="c",
)


# -- git: parsing and answering ------------------------------------------------------------


def test_parse_request_reads_what_git_sends() -> None:
    request = git.parse_request(
        b"capability[]=authtype\ncapability[]=state\nprotocol=HTTPS\nhost=api.example.org:8443\n"
        b"path=a/b.git\nusername=alice\npassword=secret=with=equals\nwwwauth[]=Bearer x\n\n"
        b"host=ignored.after.the.blank.line\n"
    )
    assert request == git.GitRequest(
        protocol="https",
        host="api.example.org:8443",
        username="alice",
        path="a/b.git",
        secret="secret=with=equals",
        capabilities=frozenset({"authtype", "state"}),
        challenges=("Bearer x",),
    )
    reset = git.parse_request(b"capability[]=authtype\ncapability[]=\nprotocol=https\nhost=h")
    assert reset.capabilities == frozenset()  # an empty array value clears the list
    same_twice = git.parse_request(b"protocol=https\nhost=h\nhost=h\n")
    assert same_twice.host == "h"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"protocol=https\nhost=h\r\n", "line 2 contains a carriage return"),
        (b"protocol=https\r\nhost=h\n", "line 1 contains a carriage return"),
        (b"protocol=https\nhost=h\nusername=a\rb\n", "line 3 contains a carriage return"),
        (b"protocol=https\nhost=h\x00.evil\n", "line 2 contains a NUL byte"),
        (b"protocol=https\nhost=h\npath=" + b"p" * MAX_LINE + b"\n", "line 3 is longer than"),
        (b"protocol=https\nhost=\xff\n", "line 2 is not UTF-8"),
        (b"protocol=https\nhost\n", "line 2 is not key=value"),
        (b"protocol=https\n=h\n", "line 2 is not key=value"),
        (b"protocol=https\n\n", "no host"),
        (b"protocol=https\nhost=\n", "no host"),
        (b"host=h\n", "no protocol"),
        (b"", "no protocol"),
        (b"protocol=https\nhost=a\nhost=b\n", "two different values for 'host'"),
        (b"protocol=https\nhost=h\x1b[31m\n", "host contains a control character"),
        (b"protocol=ht\ttps\nhost=h\n", "protocol contains a control character"),
        (b"protocol=https\nhost=h\nusername=\x1b]0;pwned\x07\n", "username contains a control"),
    ],
)
def test_parse_request_refuses(data: bytes, problem: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        git.parse_request(data)
    assert problem in refused.value.message
    assert "evil" not in refused.value.message  # the input itself is never quoted


def test_read_lines_stops_at_the_blank_line_and_bounds_every_line() -> None:
    stream = io.BytesIO(b"protocol=https\nhost=h\n\nmore=1\n")
    assert read_lines(stream) == b"protocol=https\nhost=h\n"
    assert stream.read() == b"more=1\n"  # a caller may keep the pipe open after the request
    assert read_lines(io.BytesIO(b"a=" + b"x" * (MAX_LINE - 3) + b"\n")).endswith(b"x\n")
    with pytest.raises(InvalidRequest, match="longer than 65535 bytes"):
        read_lines(io.BytesIO(b"a=" + b"x" * MAX_LINE + b"\n"))
    with pytest.raises(InvalidRequest, match="more than"):
        read_lines(io.BytesIO(b"a=b\n" * 300_000))


def test_format_answer() -> None:
    plain = git.format_answer(TOKEN, bearer=False)
    assert plain == b"username=alice\npassword=eyJ.access\npassword_expiry_utc=1900000000\n"
    capable = git.format_answer(TOKEN, bearer=True).decode().splitlines()
    assert capable[:3] == ["capability[]=authtype", "authtype=Bearer", "credential=eyJ.access"]
    assert capable[3:] == plain.decode().splitlines()
    forever = TOKEN._replace(expires_at=math.inf)
    assert b"password_expiry_utc" not in git.format_answer(forever, bearer=False)
    broken = TOKEN._replace(username="alice\nhost=evil")
    with pytest.raises(BpError, match="line break"):
        git.format_answer(broken, bearer=False)


# -- docker: parsing and answering ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "scheme", "netloc"),
    [
        (b"api.example.org", "https", "api.example.org"),
        (b"api.example.org:5000\n", "https", "api.example.org:5000"),
        (b"https://api.example.org/v2/", "https", "api.example.org"),
        (b"HTTP://127.0.0.1:8080", "http", "127.0.0.1:8080"),
        (b"[::1]:443", "https", "[::1]:443"),
    ],
)
def test_parse_server(data: bytes, scheme: str, netloc: str) -> None:
    server = docker.parse_server(data)
    assert (server.url, server.scheme, server.netloc) == (data.decode().strip(), scheme, netloc)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"api.example.org\r\n",
        b"api.example.org\x00",
        b"api.\x1bexample.org",
        b"api example.org",
        b"\xffapi.example.org",
        b"https://",
        b"https://[::1",
        b"a" * (MAX_LINE + 1),
    ],
)
def test_parse_server_refuses(data: bytes) -> None:
    with pytest.raises(InvalidRequest):
        docker.parse_server(data)


def test_parse_store_request() -> None:
    request = docker.parse_store_request(
        json.dumps({"ServerURL": "h:1", "Username": "u", "Secret": "p&=+% #é", "x": 1}).encode()
    )
    assert (request.server.netloc, request.username, request.secret) == ("h:1", "u", "p&=+% #é")
    documents: list[object] = [
        [],
        {"ServerURL": "h", "Username": "u"},
        {"ServerURL": "h", "Username": "u", "Secret": ""},
        {"ServerURL": "h", "Username": 1, "Secret": "s"},
        {"ServerURL": "h", "Username": "u", "Secret": "s\x00"},
        {"ServerURL": "h\r", "Username": "u", "Secret": "s"},
        {"ServerURL": "h", "Username": "u\x1b[2J", "Secret": "s"},
    ]
    for document in documents:
        with pytest.raises(InvalidRequest):
            docker.parse_store_request(json.dumps(document).encode())


def test_format_credentials() -> None:
    server = docker.parse_server(b"api.example.org")
    assert json.loads(docker.format_credentials(server, TOKEN)) == {
        "ServerURL": "api.example.org",
        "Username": "alice",
        "Secret": "eyJ.access",
    }


# -- hostile input through the executables -------------------------------------------------


# Only `get` has a cached path: `erase` and `store` go to the full path either way, so the
# cached-path run tries `get` alone.
ACTIONS = {"quick": {"git": ["get"], "docker": ["get"]},
           "full": {"git": ["get", "erase", "store"], "docker": ["get", "erase"]}}  # fmt: skip


def test_hostile_git_input_is_refused_by_the_executable(
    sandbox: Sandbox, helper_path: str, home: Home
) -> None:
    sign_in(home)
    before = home.store_file().read_bytes()
    good = f"protocol=https\nhost={sandbox.netloc}\n".encode()
    for data in (
        good.replace(b"\nhost", b"\rhost"),
        good + b"username=al\x00ice\n",
        good + b"path=" + b"p" * 70_000 + b"\n",
        b"protocol=https\nusername=alice\n",
        f"host={sandbox.netloc}\n".encode(),
        good + b"username=\xe9\n",
        good + b"not a key value line\n",
    ):
        for action in ACTIONS[helper_path]["git"]:
            assert_refused(run_bytes(home, GIT, [action], data))
    assert home.store_file().read_bytes() == before
    assert len(sandbox.requests) == 1


def test_hostile_docker_input_is_refused_by_the_executable(
    sandbox: Sandbox, helper_path: str, home: Home
) -> None:
    sign_in(home)
    before = home.store_file().read_bytes()
    for data in (
        f"{sandbox.netloc}\r\nevil".encode(),
        sandbox.netloc.encode() + b"\x00",
        b"\xff" + sandbox.netloc.encode(),
        b"a" * 70_000,
        b"",
    ):
        for action in ACTIONS[helper_path]["docker"]:
            assert_refused(run_bytes(home, DOCKER, [action], data))
    assert home.store_file().read_bytes() == before


# -- fuzzing: arbitrary bytes never crash a parser, and invalid input is never answered ---


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An environment (and os.environ) where no real config or token store can be reached."""
    root = tmp_path_factory.mktemp("fuzz")
    config = root / "config.toml"
    config.write_text("[profiles.default]\nclient_id = 'c'\n")
    environ = {
        "BIOPRODICT_CONFIG": str(config),
        "BIOPRODICT_HOSTS": "bound.example.org",
        "BIOPRODICT_TOKEN_URL": "https://127.0.0.1:9/oauth/oauth/token",  # never the real one
        "BIOPRODICT_CLIENT_SECRET": "s",
        "BIOPRODICT_NONINTERACTIVE": "1",
        "XDG_STATE_HOME": str(root / "state"),
        "XDG_CONFIG_HOME": str(root / "config"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        yield environ


def _serve_git(data: bytes, environ: dict[str, str]) -> tuple[int | None, bytes]:
    out = io.BytesIO()
    try:
        code: int | None = git.serve("get", io.BytesIO(data), out, {}, environ)
    except InvalidRequest:
        code = None
    return code, out.getvalue()


# Arbitrary bytes, and lines that come close to a request (some name the bound host).
WORDS = st.sampled_from([b"https", b"http", b"bound.example.org", b"127.0.0.1:9", b"authtype"])
GIT_LINE = st.tuples(
    st.sampled_from([b"protocol", b"host", b"username", b"capability[]", b"path", b"x"]),
    WORDS | st.binary(max_size=10),
).map(b"=".join)
GIT_INPUT = st.one_of(
    st.binary(max_size=512),
    st.lists(GIT_LINE | st.binary(max_size=12), max_size=8).map(b"\n".join),
    st.lists(GIT_LINE, max_size=5).map(
        lambda lines: b"\n".join([b"protocol=https", b"host=bound.example.org", *lines])
    ),
)


@pytest.mark.slow
@settings(deadline=None, max_examples=400)
@given(GIT_INPUT)
def test_fuzz_git_parser(isolated: dict[str, str], data: bytes) -> None:
    try:
        request = git.parse_request(data)
    except InvalidRequest:
        code, answered = _serve_git(data, isolated)
        assert code is None and answered == b""
        return
    head = data.split(b"\n\n", 1)[0]
    assert b"\r" not in head and b"\0" not in head
    assert request.protocol and request.host
    code, answered = _serve_git(data, isolated)
    assert code == 0 and answered == b""  # no stored token, nobody to ask: no answer


LINE_TEXT = st.text(st.sampled_from("ab=:/.\r\x00\x1bé\t[] "), max_size=12)


@pytest.mark.slow
@settings(deadline=None, max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(["protocol", "host", "username", "x"]), LINE_TEXT)))
def test_fuzz_git_values_with_cr_or_nul_are_refused(pairs: list[tuple[str, str]]) -> None:
    data = "".join(f"{key}={value}\n" for key, value in pairs).encode()
    try:
        git.parse_request(data)
        accepted = True
    except InvalidRequest as exc:
        accepted = False
        assert "\r" not in exc.message and "\x00" not in exc.message
    if any("\r" in value or "\x00" in value for _, value in pairs):
        assert not accepted


def _serve_docker(action: str, data: bytes, environ: dict[str, str]) -> tuple[int | None, bytes]:
    out = io.BytesIO()
    try:
        code: int | None = docker.serve(action, io.BytesIO(data), out, {}, environ)
    except InvalidRequest:
        code = None
    return code, out.getvalue()


@pytest.mark.slow
@settings(deadline=None, max_examples=400)
@given(st.binary(max_size=512) | st.lists(WORDS | st.binary(max_size=6), max_size=4).map(b"".join))
def test_fuzz_docker_server_parser(isolated: dict[str, str], data: bytes) -> None:
    try:
        docker.parse_server(data)
    except InvalidRequest:
        assert _serve_docker("get", data, isolated) == (None, b"")
        assert _serve_docker("erase", data, isolated) == (None, b"")
        return
    # unbound, or bound with no token and nobody to ask: docker's "not found", no secret
    assert _serve_docker("get", data, isolated) == (1, docker.NOT_FOUND.encode() + b"\n")


SECRET_MARK = "S3cr3t"
STORE_DOCUMENT = st.fixed_dictionaries(
    {
        # hosts no profile is bound to: a store fails at once, before any token request
        "ServerURL": st.sampled_from(
            ["https://unbound.example.org", "unbound.example.org:5000", "https://127.0.0.1:9"]
        )
        | LINE_TEXT,
        "Username": st.sampled_from(["alice", docker.IDENTITY_TOKEN_USER]) | LINE_TEXT,
        "Secret": LINE_TEXT.map(lambda text: SECRET_MARK + text),
    }
).map(lambda document: json.dumps(document).encode())


@pytest.mark.slow
@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=512) | STORE_DOCUMENT)
def test_fuzz_docker_store_parser(isolated: dict[str, str], data: bytes) -> None:
    try:
        request = docker.parse_store_request(data)
    except InvalidRequest:
        assert _serve_docker("store", data, isolated) == (None, b"")
        return
    event("parsed")
    assert request.secret and request.username and request.server.netloc
    code, answered = _serve_docker("store", data, isolated)
    # nobody can log in here: a refusal on docker's channel (stdout), one line, no secret
    assert code == 1, answered
    assert answered.startswith(b"bp-helper: ") and answered.count(b"\n") == 1, answered
    assert SECRET_MARK.encode() not in answered


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@pytest.mark.slow
@settings(deadline=None, max_examples=300)
@given(
    st.dictionaries(st.sampled_from(["ServerURL", "Username", "Secret", "Other"]), JSON | LINE_TEXT)
)
def test_fuzz_docker_store_json(document: dict[str, object]) -> None:
    data = json.dumps(document).encode()
    try:
        request = docker.parse_store_request(data)
    except InvalidRequest:
        return
    assert all(isinstance(document[key], str) for key in ("ServerURL", "Username", "Secret"))
    for value in (request.username, request.secret, request.server.url):
        assert value and "\r" not in value and "\x00" not in value and "\n" not in value


@both_paths
@pytest.mark.parametrize(
    "argv",
    [
        ["bp-helper", "git", "get"],
        ["bp-helper", "docker", "get"],
        [GIT, "get"],
        [DOCKER, "get"],
    ],
)
def test_closed_stdin_is_refused_in_one_line(home: Home, argv: list[str]) -> None:
    done = subprocess.run(
        [executable(argv[0]), *argv[1:]],
        stdin=None,
        capture_output=True,
        text=True,
        env=home.env,
        preexec_fn=lambda: os.close(0),  # standard input closed, not just empty
        start_new_session=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "request refused" in done.stderr and "internal error" not in done.stderr
