"""In a Jupyter kernel, a login that is needed asks through the notebook's frontend.

A real kernel (ipykernel, started by jupyter_client in a new session: no terminal) with this
venv's Python and the sandbox's environment; the test is its frontend, answering the
``input_request`` messages on the stdin channel as a notebook would.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox

from .support import Home

pytestmark = pytest.mark.real_clients

ALICE = DEMO_USERS["alice"]
BOB = DEMO_USERS["bob"]
KERNEL = "bp-helper-test"


@dataclass
class Frontend:
    """Runs cells in the kernel; answers its input requests from ``answers``, in order."""

    client: Any
    answers: list[str] = field(default_factory=list)
    asked: list[tuple[str, bool]] = field(default_factory=list)  # (prompt, password?)
    output: list[str] = field(default_factory=list)

    def run(self, code: str, *, allow_stdin: bool = True) -> dict[str, Any]:
        self.output.clear()

        def on_input(msg: dict[str, Any]) -> None:
            content = msg["content"]
            self.asked.append((content["prompt"], bool(content["password"])))
            self.client.input(self.answers.pop(0) if self.answers else "\x04")  # EOF if unplanned

        def on_output(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                self.output.append(msg["content"]["text"])

        reply: dict[str, Any] = self.client.execute_interactive(
            textwrap.dedent(code),
            allow_stdin=allow_stdin,
            stdin_hook=on_input,
            output_hook=on_output,
            timeout=120,
        )
        return dict(reply["content"])


@pytest.fixture
def frontend(
    sandbox: Sandbox, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Frontend]:
    from jupyter_client.manager import start_new_kernel

    # our own kernel spec: this venv's Python, whatever kernels the machine has installed
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    env = {**home.env, "IPYTHONDIR": str(home.root / "ipython"), "JUPYTER_PLATFORM_DIRS": "1"}
    manager, client = start_new_kernel(
        startup_timeout=120, kernel_name=KERNEL, env=env, cwd=str(home.root)
    )
    try:
        yield Frontend(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


GET = """
import requests, bp_helper
response = requests.get(API_URL, auth=bp_helper.BioProdictAuth(), timeout=60)
print("status", response.status_code)
"""


def test_a_notebook_login_asks_in_the_notebook(
    sandbox: Sandbox, home: Home, frontend: Frontend
) -> None:
    setup = frontend.run(
        f"""
        import os, sys
        API_URL = {sandbox.api_url!r}
        try:
            os.close(os.open("/dev/tty", os.O_RDWR))
            print("terminal")
        except OSError:
            print("no terminal")
        print(sys.executable)
        """
    )
    assert setup["status"] == "ok", setup
    assert frontend.output == [f"no terminal\n{sys.executable}\n"]

    where = f"(profile 'default', {sandbox.netloc})"  # prompts name the profile and host
    # a frontend that takes no input: today's clear error, nothing asked, nothing sent
    refused = frontend.run(GET, allow_stdin=False)
    assert refused["status"] == "error" and refused["ename"] == "LoginRequired"
    assert "frontend does not accept input" in refused["evalue"]
    assert "bp-helper" in refused["evalue"] and "login" in refused["evalue"]
    assert frontend.asked == [] and sandbox.requests == []

    # with a notebook frontend: asked there (the password hidden); a refused one is asked again
    frontend.answers = ["alice", "not the password", ALICE.password]
    done = frontend.run(GET)
    assert done["status"] == "ok", done
    assert frontend.output == ["status 200\n"]
    assert frontend.asked[:2] == [
        (f"Bio-Prodict username {where}: ", False),
        (f"Bio-Prodict password for alice {where}: ", True),
    ]
    again, hidden = frontend.asked[2]
    assert (
        "Bad credentials" in again
        and again.endswith(f"password for alice {where} again: ")
        and hidden
    )
    assert [r.status for r in sandbox.token_requests("password")] == [400, 200]
    assert home.stored()["username"] == "alice"

    # the Python API asks there too, for the two-factor code as well
    assert BOB.twofactor
    frontend.asked.clear()
    frontend.answers = ["bob", BOB.password, BOB.twofactor]
    done = frontend.run("bp_helper.logout(); print(bp_helper.login().username)")
    assert done["status"] == "ok", done
    assert frontend.output == ["bob\n"]
    assert [question for question, _ in frontend.asked] == [
        f"Bio-Prodict username {where}: ",
        f"Bio-Prodict password for bob {where}: ",
        f"Two-factor code {where}: ",
    ]

    # a refused password is asked again twice at most
    frontend.asked.clear()
    frontend.answers = ["alice", "wrong 1", "wrong 2", "wrong 3", ALICE.password]
    sandbox.reset_counters()
    failed = frontend.run("bp_helper.logout(); bp_helper.token()")
    assert failed["status"] == "error" and failed["ename"] == "CredentialsRejected"
    assert "Bad credentials" in failed["evalue"] and "wrong" not in failed["evalue"]
    assert [secret for _, secret in frontend.asked] == [False, True, True, True]
    assert len(sandbox.token_requests("password")) == 3
    assert frontend.answers == [ALICE.password]  # never asked a fourth time

    # async httpx in the notebook: the prompt comes from the worker thread, still in the notebook
    frontend.asked.clear()
    frontend.answers = ["alice", ALICE.password]
    done = frontend.run(
        """
        import httpx, ssl
        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        async with httpx.AsyncClient(auth=bp_helper.HttpxAuth(), verify=context) as client:
            response = await client.get(API_URL)
        print("async", response.status_code)
        """
    )
    assert done["status"] == "ok", done
    assert frontend.output == ["async 200\n"]
    assert frontend.asked == [
        (f"Bio-Prodict username {where}: ", False),
        (f"Bio-Prodict password for alice {where}: ", True),
    ]
