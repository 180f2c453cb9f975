"""Issue 10's smaller items: real loopback only, Ctrl-C at a prompt."""

from __future__ import annotations

import os
import signal

import pytest

from bp_helper.testing import Sandbox

from .support import Home, login, read_until, spawn_with_terminal


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
    assert proc.stderr.read().decode().strip() == "bp-helper: interrupted"
