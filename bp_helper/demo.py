"""``bp-helper sandbox`` and ``bp-helper demo``: the local token server, and a walkthrough on it.

The demo runs the real ``bp-helper`` executables in a throwaway home folder against the
sandbox, shows each command with its output, and checks what the server saw.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BpError
from .settings import Settings

if TYPE_CHECKING:
    from .testing import Sandbox

BIN = Path(sys.executable).parent
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
DEMO_LIFETIME = 6  # seconds: short, so that the demo can show a refresh


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from .testing import Sandbox

    sandbox = Sandbox(port=args.port, token_lifetime=args.token_lifetime)
    try:
        sandbox.start()
    except (OSError, RuntimeError) as exc:
        raise BpError(f"cannot start the sandbox: {exc}") from None
    sandbox.serve_forever_cli(sys.stdout)
    return 0


class DemoFailed(BpError):
    pass


class Walkthrough:
    """Runs bp-helper commands in an isolated home, narrating each step."""

    def __init__(self, sandbox: Sandbox, home: Path) -> None:
        self.sandbox = sandbox
        self.home = home
        env = {k: v for k, v in os.environ.items() if not k.startswith("BIOPRODICT_")}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_STATE_HOME=str(home / ".local" / "state"),
            BIOPRODICT_NONINTERACTIVE="1",
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",  # never the user's keyring
        )
        env.update(sandbox.env("bp-demo"))
        self.env = env
        self.step_no = 0

    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n== Step {self.step_no}: {title}")

    def say(self, text: str) -> None:
        print(f"   {text}")

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        expect: int = 0,
        extra_env: dict[str, str] | None = None,
        show_output: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``bp-helper ARGV`` (this Python's), narrated."""
        prefix = "echo '<password>' | " if stdin is not None else ""
        return self.run_tool(
            [sys.executable, "-m", "bp_helper", *argv],
            shown=f"{prefix}bp-helper {' '.join(argv)}",
            stdin=stdin or "",
            expect=expect,
            extra_env=extra_env,
            show_output=show_output,
        )

    def run_tool(
        self,
        argv: Sequence[str],
        *,
        shown: str,
        stdin: str = "",
        expect: int = 0,
        extra_env: dict[str, str] | None = None,
        show_output: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run any program in the demo's home, narrated; tokens are shortened in what is shown."""
        print(f"   $ {shown}")
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            env={
                **self.env,
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                **(extra_env or {}),
            },
            cwd=self.home,
            timeout=60,
            check=False,
        )
        if show_output:
            for line in (done.stdout + done.stderr).splitlines():
                print(f"     {JWT.sub(lambda m: short(m.group()), line)}")
        if done.returncode != expect:
            raise DemoFailed(
                f"demo step {self.step_no}: `{shown}` exited {done.returncode}, expected {expect}"
            )
        return done

    def check(self, condition: bool, what: str) -> None:
        if not condition:
            raise DemoFailed(f"demo step {self.step_no}: {what}")
        self.say(f"ok: {what}")


def short(token: str) -> str:
    return f"{token[:12]}…({len(token)} characters)"


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from .testing import DEMO_USERS, Sandbox

    alice = DEMO_USERS["alice"]
    print("bp-helper demo: a walkthrough on the local sandbox token server.")
    print("Nothing here touches your own configuration or tokens.")
    with (
        tempfile.TemporaryDirectory(prefix="bp-helper-demo-") as home,
        Sandbox(token_lifetime=DEMO_LIFETIME) as sandbox,
    ):
        print(f"Sandbox token URL: {sandbox.token_url} (client id bp-demo)")
        demo = Walkthrough(sandbox, Path(home))

        demo.step("log in (password on standard input, never on the command line)")
        demo.say(f"The demo user {alice.username!r} has the password {alice.password!r}.")
        demo.run(["login", "--username", alice.username, "--password-stdin"], stdin=alice.password)
        grants = sandbox.token_requests("password")
        demo.check(len(grants) == 1, "the server saw one password grant")
        demo.check(
            grants[-1].form.get("password") == [alice.password],
            "the password arrived byte for byte, form-encoded exactly once",
        )

        demo.step("hand out the token: `bp-helper token` answers from the cache")
        before = len(sandbox.requests)
        token = demo.run(["token"], show_output=False).stdout.strip()
        demo.say(f"stdout: {short(token)}")
        demo.check(len(sandbox.requests) == before, "no request reached the token server")

        demo.step("use it: GET the sandbox's protected API with `Authorization: Bearer`")
        answer = call_api(sandbox, "demo/hello", token)
        demo.say(f"HTTP 200: {json.dumps(answer)}")
        demo.check(answer.get("username") == alice.username, "the API knows who is calling")

        demo.step("status: who is logged in, and where every setting came from")
        demo.run(["status"])

        demo.step("doctor: config, secrets, keyring, storage, token URL and clock, each checked")
        checked = demo.run(["doctor"])
        demo.check("All is well." in checked.stdout, "every check is OK")

        demo.step(f"wait for the {DEMO_LIFETIME} s token to come close to expiry, then refresh")
        time.sleep(DEMO_LIFETIME / 2 + 0.5)
        before = len(sandbox.token_requests("refresh_token"))  # doctor's probe is one too
        refreshed = demo.run(["token"], show_output=False).stdout.strip()
        demo.say(f"stdout: {short(refreshed)}")
        demo.check(refreshed != token, "a new access token")
        after = len(sandbox.token_requests("refresh_token"))
        demo.check(after == before + 1, "made by one refresh grant")
        call_api(sandbox, "demo/again", refreshed)
        demo.check(True, "the new token works on the API")

        from .protocols import walkthrough

        walkthrough.git_steps(demo, sandbox)
        walkthrough.docker_steps(demo, sandbox)
        from .demo_integrations import show_integrations

        show_integrations(demo)

        demo.step("log out, then ask for a token with nobody to type a password")
        demo.run(["logout"])
        failed = demo.run(["token"], expect=3)
        demo.check(
            len(failed.stderr.strip().splitlines()) == 1, "one line on stderr that says what to do"
        )
        walkthrough.docker_login_steps(demo, sandbox, alice.password)

        demo.step("a wrong password is refused once; a burst of retries does not reach the server")
        wrong = {"BIOPRODICT_USERNAME": alice.username, "BIOPRODICT_PASSWORD": "wrong"}
        before = len(sandbox.token_requests("password"))
        demo.run(["token"], expect=1, extra_env=wrong)
        again = demo.run(["token"], expect=1, extra_env=wrong)
        demo.check("was refused" in again.stderr, "the retry fails at once, with the reason")
        demo.check(
            len(sandbox.token_requests("password")) == before + 1, "the server saw one attempt"
        )
        print(
            f"\nDemo finished: {len(sandbox.requests)} token requests, "
            f"{len(sandbox.api_requests)} API calls, all checks passed."
        )
    return 0


def call_api(sandbox: Sandbox, path: str, token: str) -> dict[str, object]:
    import requests

    response = requests.get(
        sandbox.api_url + path,
        headers={"Authorization": f"Bearer {token}"},
        verify=str(sandbox.ca_path),
        timeout=10,
    )
    if response.status_code != 200:
        raise DemoFailed(f"the sandbox API answered HTTP {response.status_code}")
    data: dict[str, object] = response.json()
    return data
