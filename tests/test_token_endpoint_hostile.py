"""Hostile token servers: redirects, dripping and endless answers, echoes, odd tokens and text."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .hostile_support import HostileServer, Received, send_json
from .support import BIN, Home, one_line_error

CLIENT_SECRET = "hostile-client-s3cret"
PASSWORD = "p@ss w&rd+%=#é"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"


def token_answer(**fields: object) -> bytes:
    answer = {
        "access_token": TOKEN,
        "token_type": "bearer",
        "expires_in": 43199,
        "refresh_token": "eyJhbGciOiJIUzI1NiJ9.eyJyZWZyZXNoIjoxfQ.cmVmcmVzaC1zaWduYXR1cmU",
        "username": "alice",
        **fields,
    }
    return json.dumps(answer).encode()


def hostile_home(tmp_path: Path, server: HostileServer, *cas: Path) -> Home:
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(b"".join(p.read_bytes() for p in (server.ca_path, *cas) if p.exists()))
    home = Home.make(
        tmp_path / "home",
        {
            "BIOPRODICT_TOKEN_URL": server.url(),
            "BIOPRODICT_CLIENT_ID": "hostile-client",
            "BIOPRODICT_CLIENT_SECRET": CLIENT_SECRET,
            "REQUESTS_CA_BUNDLE": str(bundle),
        },
    )
    home.write_config("[profiles.default]\ntimeout = 1\n")
    return home


def login(home: Home, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    return home.bp("login", "--username", "alice", "--password-stdin", input=password)


# -- 1: no redirects --------------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("tls", [True, False])
def test_a_redirect_sends_nothing_to_the_second_host(
    tmp_path: Path, status: int, tls: bool
) -> None:
    def second_answer(request: Received, conn: socket.socket) -> None:
        send_json(conn, 200, token_answer())

    with HostileServer(second_answer, tmp_path, tls=tls) as second:

        def first_answer(request: Received, conn: socket.socket) -> None:
            send_json(conn, status, b"{}", f"Location: {second.url('/steal')}")

        with HostileServer(first_answer, tmp_path) as first:
            home = hostile_home(tmp_path, first, second.ca_path)
            done = login(home)
    assert done.returncode == 1
    line = one_line_error(done)
    assert f"redirects to {second.scheme}://127.0.0.1:{second.port};" in line
    assert "set token_url to it" in line
    assert second.received == [] and second.connections == 0
    assert not home.store_file().exists()


def test_a_redirected_refresh_sends_nothing_to_the_second_host(tmp_path: Path) -> None:
    with HostileServer(lambda r, c: send_json(c, 200, token_answer()), tmp_path) as second:

        def first_answer(request: Received, conn: socket.socket) -> None:
            if b"grant_type=password" in request.body:
                send_json(conn, 200, token_answer())
            else:
                send_json(conn, 307, b"", f"Location: {second.url()}")

        with HostileServer(first_answer, tmp_path) as first:
            home = hostile_home(tmp_path, first, second.ca_path)
            assert login(home).returncode == 0
            path = home.store_file()
            path.write_text(path.read_text().replace('"expires_at": ', '"expires_at": 1, "x": '))
            done = home.bp("token")
    assert done.returncode == 1
    assert "redirects to https://127.0.0.1:" in one_line_error(done)
    assert second.received == []
    assert home.stored()["refresh_token"]  # kept: the redirect says nothing about it


# -- 2: bounded in time and size --------------------------------------------------------


def drip_body(request: Received, conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{")
    for _ in range(600):  # one byte every 0.1 s, for a minute
        time.sleep(0.1)
        conn.sendall(b" ")


def drip_headers(request: Received, conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for number in range(90):  # a header line every 0.3 s (under http.client's 100 headers)
        time.sleep(0.3)
        conn.sendall(f"X-Slow-{number}: 1\r\n".encode())
    conn.sendall(b"\r\n")


@pytest.mark.slow
@pytest.mark.parametrize("answer", [drip_body, drip_headers])
def test_a_dripping_answer_ends_at_the_deadline(tmp_path: Path, answer: object) -> None:
    sent: list[int] = []

    def counting(request: Received, conn: socket.socket) -> None:
        try:
            answer(request, conn)  # type: ignore[operator]
        except OSError:
            sent.append(1)  # the client hung up before the answer was complete
            raise

    with HostileServer(counting, tmp_path) as server:
        home = hostile_home(tmp_path, server)
        done = login(home)
        for _ in range(100):  # the server thread notices the hang-up at its next write
            if sent:
                break
            time.sleep(0.1)
    assert done.returncode == 1
    assert "did not finish its answer within 2 s" in one_line_error(done)
    assert sent == [1]  # bp-helper hung up: the answer never completed
    assert len(server.received) == 1  # not retried


def test_an_endless_answer_is_cut_off(tmp_path: Path) -> None:
    written = [0]

    def endless(request: Received, conn: socket.socket) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"access_token": "')
        chunk = b"a" * 65536
        for _ in range(16 * 8):  # 8 MiB: far beyond any token answer
            conn.sendall(chunk)
            written[0] += len(chunk)
        conn.sendall(b'", "token_type": "bearer", "expires_in": 100}')

    with HostileServer(endless, tmp_path) as server:
        home = hostile_home(tmp_path, server)
        done = login(home)
    assert done.returncode == 1
    assert "an answer larger than 1 MiB" in one_line_error(done)
    assert written[0] < 8 * 1024 * 1024  # it stopped reading
    assert not home.store_file().exists()


# -- 4: server text is scrubbed ---------------------------------------------------------


def test_the_error_field_is_scrubbed(tmp_path: Path) -> None:
    error = "invalid\n\x1b[2Jbp-helper: all is well\r\x9b31m" + "x" * 100_000

    def answer(request: Received, conn: socket.socket) -> None:
        send_json(conn, 400, json.dumps({"error": error}).encode())

    with HostileServer(answer, tmp_path) as server:
        done = login(hostile_home(tmp_path, server))
    assert done.returncode == 1
    line = one_line_error(done)
    assert "\x1b" not in done.stderr and "\x9b" not in done.stderr and "\r" not in done.stderr
    assert len(line) < 400


def test_names_from_the_server_are_scrubbed(tmp_path: Path) -> None:
    answer_body = token_answer(
        username="alice\nprotocol=evil\x1b]0;x\x07", fullname="A\x1b[31m" * 9
    )

    with HostileServer(lambda r, c: send_json(c, 200, answer_body), tmp_path) as server:
        home = hostile_home(tmp_path, server)
        done = login(home)
        status = home.bp("status")
        git = home.run(
            ["get"],
            input=f"protocol=https\nhost=127.0.0.1:{server.port}\n\n",
            program="git-credential-bioprodict",
        )
    assert done.returncode == 0, done.stderr
    for output in (done.stdout, status.stdout, git.stdout):
        assert "\x1b" not in output and "\x07" not in output
    assert "protocol=evil" not in git.stdout.splitlines()
    # git gets the name the login was made with, never the server's text (issue 11)
    assert [line for line in git.stdout.splitlines() if line.startswith("username=")] == [
        "username=alice"
    ]


# -- 7: no secrets in a program's debug output; encoded echoes redacted -------------------


def test_a_debugging_program_never_prints_the_token_request(
    sandbox: Sandbox, home: Home, tmp_path: Path
) -> None:
    program = (
        "import http.client, logging, requests, bp_helper\n"
        "http.client.HTTPConnection.debuglevel = 1\n"
        "logging.basicConfig(level=logging.DEBUG)\n"
        "for name in ('urllib3', 'requests_oauthlib', 'oauthlib'):\n"
        "    logging.getLogger(name).setLevel(logging.DEBUG)\n"
        f"r = requests.get({sandbox.api_url + 'x'!r}, auth=bp_helper.BioProdictAuth(),"
        " timeout=30)\n"
        "print('status', r.status_code)\n"
    )
    alice = DEMO_USERS["alice"]
    done = subprocess.run(
        [str(BIN / "python"), "-c", program],
        capture_output=True,
        text=True,
        env={**home.env, "BIOPRODICT_USERNAME": "alice", "BIOPRODICT_PASSWORD": alice.password},
        timeout=60,
        check=False,
    )
    assert "status 200" in done.stdout, done.stderr
    secret = home.env["BIOPRODICT_CLIENT_SECRET"]
    basic = base64.b64encode(f"bp-demo:{secret}".encode()).decode()
    output = done.stdout + done.stderr
    for value in (alice.password, quote_plus(alice.password), secret, basic):
        assert value not in output


def test_an_echoed_request_is_redacted_in_every_encoding(tmp_path: Path) -> None:
    def echo(request: Received, conn: socket.socket) -> None:
        said = request.body.decode() + " " + request.headers.get("authorization", "")
        send_json(
            conn, 400, json.dumps({"error": "invalid_grant", "error_description": said}).encode()
        )

    with HostileServer(echo, tmp_path) as server:
        done = login(hostile_home(tmp_path, server))
    assert done.returncode == 1
    line = one_line_error(done)
    basic = base64.b64encode(f"hostile-client:{CLIENT_SECRET}".encode()).decode()
    for value in (PASSWORD, quote_plus(PASSWORD), CLIENT_SECRET, basic):
        assert value not in line
    assert "[redacted]" in line


# -- 9, 17: local causes, odd token types ---------------------------------------------------


def test_a_password_that_is_not_text_is_a_local_error(tmp_path: Path) -> None:
    with HostileServer(lambda r, c: send_json(c, 200, token_answer()), tmp_path) as server:
        home = hostile_home(tmp_path, server)
        done = subprocess.run(
            [str(BIN / "bp-helper"), "token"],
            env={
                **{k.encode(): v.encode() for k, v in home.env.items()},
                b"BIOPRODICT_USERNAME": b"alice",
                b"BIOPRODICT_PASSWORD": b"caf\xe9",
            },
            capture_output=True,
            timeout=60,
            check=False,
            start_new_session=True,
        )
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "password is not valid text" in stderr and len(stderr.strip().splitlines()) == 1
    assert server.received == []
    assert not (home.store_dir / "default.failed").exists()


@pytest.mark.parametrize("kind", ["mac", "N_A"])
def test_a_token_that_is_not_bearer_is_refused(tmp_path: Path, kind: str) -> None:
    with HostileServer(
        lambda r, c: send_json(c, 200, token_answer(token_type=kind)), tmp_path
    ) as s:
        home = hostile_home(tmp_path, s)
        done = login(home)
    assert done.returncode == 1
    assert "not bearer" in one_line_error(done)
    assert not home.store_file().exists()


def test_bearer_in_any_case_is_accepted(tmp_path: Path) -> None:
    with HostileServer(
        lambda r, c: send_json(c, 200, token_answer(token_type="Bearer")), tmp_path
    ) as s:
        done = login(hostile_home(tmp_path, s))
    assert done.returncode == 0, done.stderr


def test_login_fails_when_its_token_cannot_be_handed_out(tmp_path: Path) -> None:
    answer = token_answer(access_token="two words")
    with HostileServer(lambda r, c: send_json(c, 200, answer), tmp_path) as server:
        home = hostile_home(tmp_path, server)
        done = login(home)
    assert done.returncode == 1
    assert "cannot hand out" in one_line_error(done)
    assert "Logged in" not in done.stdout
    assert not home.store_file().exists()


@pytest.mark.slow
def test_doctors_probe_is_bounded_too(tmp_path: Path) -> None:
    with HostileServer(drip_body, tmp_path) as server:
        home = hostile_home(tmp_path, server)
        done = home.bp("doctor")
    assert "did not finish its answer within 2 s" in done.stdout + done.stderr
    assert len(server.received) == 1
