"""The demo's narrator: numbered steps, commands shown with their output, checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import requests

from bp_helper.errors import BpError
from bp_helper.testing import Sandbox

BIN = Path(sys.executable).parent


JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")


DEMO_LIFETIME = 6  # seconds: short, so that the demo can show a refresh


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


def call_api(
    sandbox: Sandbox, path: str, token: str, *, base: str | None = None, name: str = "sandbox"
) -> dict[str, object]:
    """GET ``path`` of the sandbox's API (or of ``base``) with ``token``; its JSON answer."""
    response = requests.get(
        (base or sandbox.api_url) + path,
        headers={"Authorization": f"Bearer {token}"},
        verify=str(sandbox.ca_path),
        timeout=10,
    )
    if response.status_code != 200:
        raise DemoFailed(f"the {name} API answered HTTP {response.status_code}")
    data: dict[str, object] = response.json()
    return data
