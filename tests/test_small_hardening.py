"""Issue 10's smaller items: real loopback only, Ctrl-C at a prompt."""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

from bp_helper.testing import DEMO_USERS, Sandbox

from .support import (
    UNMEASURED,
    Home,
    executable,
    login,
    one_line_error,
    read_until,
    spawn_with_terminal,
)


@pytest.mark.parametrize("host", ["127.evil.example", "127.0.0.1.evil.example", "127.1"])
def test_only_real_loopback_addresses_get_plain_http(
    sandbox: Sandbox, home: Home, host: str
) -> None:
    login(home)
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


def test_ctrl_c_at_a_prompt_exits_130(sandbox: Sandbox, home: Home) -> None:
    proc, master = spawn_with_terminal(home, ["login"])
    try:
        read_until(master, b"username")
        os.write(master, b"\x03")  # the terminal's interrupt character: SIGINT
        proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130
    assert proc.stderr is not None
    assert proc.stderr.read().decode().strip() == (
        "bp-helper: login cancelled at the prompt: nothing was sent or changed; "
        "run `bp-helper login` again when ready"
    )


# -- 13: output failures are one line -------------------------------------------------------


@pytest.mark.parametrize(
    ("redirect", "said"),
    [(">&-", "standard output is closed"), ("> /dev/full", "No space left on device")],
)
def test_output_that_cannot_be_written_is_one_line(
    sandbox: Sandbox, home: Home, redirect: str, said: str
) -> None:
    login(home)
    done = subprocess.run(
        ["sh", "-c", f'exec "$0" token {redirect}', executable("bp-helper")],
        capture_output=True,
        text=True,
        env=home.env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert one_line_error(done) == f"bp-helper: cannot write the output: {said}"


@pytest.mark.parametrize(
    ("program", "args", "stdin"),
    [
        ("bp-helper", ["status"], b""),
        ("bp-helper", ["token"], b""),
        ("git-credential-bioprodict", ["get"], None),
    ],
)
def test_a_reader_that_closes_the_pipe_early_is_one_line(
    sandbox: Sandbox, home: Home, program: str, args: list[str], stdin: bytes | None
) -> None:
    login(home)
    asked = stdin if stdin is not None else f"protocol=https\nhost={sandbox.netloc}\n\n".encode()
    proc = subprocess.Popen(
        [executable(program), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=home.env,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before anything is written (`| head -c0`)
    _, err = proc.communicate(asked, timeout=60)
    assert proc.returncode == 1
    assert err.decode().splitlines() == [
        "bp-helper: cannot write the output: its reader closed the pipe"
    ]


# -- 16: no core dumps -----------------------------------------------------------------


@pytest.mark.parametrize(
    "program", ["bp-helper", "git-credential-bioprodict", "docker-credential-bioprodict"]
)
def test_no_core_files_while_secrets_are_in_memory(home: Home, program: str) -> None:
    # The program starts with core files allowed, then waits for input (a request on stdin,
    # or the password): meanwhile, read its limits.
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    if hard == 0:
        pytest.skip("core files are disabled here (hard limit 0): nothing to check")
    allowed = 1 << 20 if hard == resource.RLIM_INFINITY else hard

    def allow_core_files() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (allowed, hard))

    proc = subprocess.Popen(
        [executable(program), "get" if program != "bp-helper" else "login"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**home.env, "BIOPRODICT_USERNAME": "alice"} if program == "bp-helper" else home.env,
        start_new_session=True,
        preexec_fn=allow_core_files,
    )
    try:
        limits = ""
        for _ in range(600):
            limits = Path(f"/proc/{proc.pid}/limits").read_text()
            core = next(line for line in limits.splitlines() if line.startswith("Max core"))
            if core.split()[4:6] == ["0", "0"]:
                break
            time.sleep(0.05)  # not a timing assertion: waiting for the program to start
        assert core.split()[4:6] == ["0", "0"], limits
    finally:
        proc.kill()
        proc.communicate()


# -- 11: private folders under any umask --------------------------------------------------


def test_folders_are_private_under_umask_000(sandbox: Sandbox, home: Home) -> None:
    done = subprocess.run(
        [
            "sh",
            "-c",
            'umask 000; exec "$0" login --username alice --password-stdin',
            executable("bp-helper"),
        ],
        input=DEMO_USERS["alice"].password,
        capture_output=True,
        text=True,
        env=home.env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    state = home.root / "state"
    for folder in (state, state / "bp-helper", state / "bp-helper" / "tokens"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(home.store_file().stat().st_mode) == 0o600


def test_doctor_reports_an_ancestor_others_can_write(sandbox: Sandbox, home: Home) -> None:
    login(home)
    (home.root / "state").chmod(0o777)
    done = home.bp("doctor")
    assert done.returncode != 0
    assert f"{home.root / 'state'} is writable by others (mode 0777)" in done.stdout + done.stderr


# -- 14: BIOPRODICT_TOKEN serves the explicit or the default profile only ----------------


def git_get(home: Home, host: str, extra: str = "", **env: str) -> str:
    asked = f"protocol=https\nhost={host}\n{extra}\n"
    done = home.run(["get"], input=asked, program="git-credential-bioprodict", env=env)
    return done.stdout


def test_the_ready_made_token_serves_the_default_or_explicit_profile_only(
    sandbox: Sandbox, home: Home
) -> None:
    home.write_config("[profiles.staging]\nhosts = ['staging.example.org']\n")
    ready = {"BIOPRODICT_TOKEN": "ready-made-ci-token"}
    assert "password=ready-made-ci-token" in git_get(home, sandbox.netloc, **ready)
    assert "ready-made-ci-token" not in git_get(home, "staging.example.org", **ready)
    explicit = {**ready, "BIOPRODICT_PROFILE": "staging"}
    assert "password=ready-made-ci-token" in git_get(home, "staging.example.org", **explicit)


def test_the_ready_made_token_is_not_labelled_with_any_username(
    sandbox: Sandbox, home: Home
) -> None:
    ready = {"BIOPRODICT_TOKEN": "ready-made-ci-token"}
    answer = git_get(home, sandbox.netloc, "username=mallory\n", **ready)
    assert "ready-made-ci-token" not in answer and "username=mallory" not in answer
    named = {**ready, "BIOPRODICT_USERNAME": "ci-bot"}
    answer = git_get(home, sandbox.netloc, "username=ci-bot\n", **named)
    assert "username=ci-bot\npassword=ready-made-ci-token" in answer


# -- 10: a full disk during a refresh loses nothing that can be kept ---------------------


def test_a_refresh_that_cannot_be_stored_still_hands_out_the_new_token(
    sandbox: Sandbox, home: Home
) -> None:
    login(home)
    path = home.store_file()
    before = path.read_text()
    path.write_text(before.replace('"expires_at": ', '"expires_at": 1, "x": '))
    path.chmod(0o600)

    def tiny_files() -> None:  # as a full disk does: writing the new token file fails
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    done = subprocess.run(
        [executable("bp-helper"), "token"],
        capture_output=True,
        text=True,
        env={**home.env, **UNMEASURED},
        timeout=60,
        check=False,
        preexec_fn=tiny_files,
    )
    assert done.returncode == 0, done.stderr
    assert len(sandbox.token_requests("refresh_token")) == 1
    new = done.stdout.strip()
    assert new and new not in before
    works = requests.get(
        sandbox.api_url + "x",
        headers={"Authorization": f"Bearer {new}"},
        verify=str(sandbox.ca_path),
        timeout=30,
    )
    assert works.status_code == 200
    warning = done.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("bp-helper: warning: cannot write")
    assert warning[0].endswith("the new tokens are lost, a login will be needed again")


# -- 9: a username that is not text is a local error ---------------------------------------


def test_a_lone_surrogate_from_docker_is_a_local_error(sandbox: Sandbox, home: Home) -> None:
    request = (
        '{"ServerURL": "https://' + sandbox.netloc + '", "Username": "al\\ud800ice", '
        '"Secret": "' + DEMO_USERS["alice"].password + '"}'
    )
    done = home.run(["store"], input=request, program="docker-credential-bioprodict")
    assert done.returncode == 2, done.stderr
    said = (done.stdout + done.stderr).strip().splitlines()  # docker reads errors on stdout
    assert len(said) == 1 and "username is not valid text" in said[0]
    assert sandbox.token_requests() == []
    assert not (home.store_dir / "default.failed").exists()
