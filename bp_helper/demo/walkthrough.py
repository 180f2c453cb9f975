"""``bp-helper sandbox`` and ``bp-helper demo``: the local token server, and a walkthrough on it.

The demo runs the real ``bp-helper`` executables in a throwaway home folder against the
sandbox, shows each command with its output, and checks what the server saw.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from bp_helper.config.settings import Settings
from bp_helper.demo.helper_steps import docker_login_steps, docker_steps, git_steps
from bp_helper.demo.integration_steps import show_integrations
from bp_helper.demo.machine_steps import machine_steps
from bp_helper.demo.narration import DEMO_LIFETIME, Walkthrough, call_api, short
from bp_helper.errors import BpError
from bp_helper.testing import DEMO_USERS, Sandbox


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    sandbox = Sandbox(port=args.port, token_lifetime=args.token_lifetime)
    if args.ca_file:
        sandbox.ca_file = Path(args.ca_file).expanduser().absolute()
    try:
        sandbox.start()
    except (OSError, RuntimeError) as exc:
        raise BpError(f"cannot start the sandbox: {exc}") from None
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    sandbox.serve_forever_cli(sys.stdout)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
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
        caller = call_api(sandbox, "demo/again", refreshed).get("username")
        demo.check(caller == alice.username, "the new token works on the API")

        git_steps(demo, sandbox)
        docker_steps(demo, sandbox)
        show_integrations(demo)

        demo.step("log out, then ask for a token with nobody to type a password")
        demo.run(["logout"])
        failed = demo.run(["token"], expect=3)
        demo.check(
            len(failed.stderr.strip().splitlines()) == 1, "one line on stderr that says what to do"
        )
        docker_login_steps(demo, sandbox, alice.password)

        demo.step("a wrong password is refused once; a burst of retries does not reach the server")
        wrong = {"BIOPRODICT_USERNAME": alice.username, "BIOPRODICT_PASSWORD": "wrong"}
        before = len(sandbox.token_requests("password"))
        demo.run(["token"], expect=1, extra_env=wrong)
        again = demo.run(["token"], expect=1, extra_env=wrong)
        demo.check("was refused" in again.stderr, "the retry fails at once, with the reason")
        demo.check(
            len(sandbox.token_requests("password")) == before + 1, "the server saw one attempt"
        )
        machine_steps(demo, sandbox)
        print(
            f"\nDemo finished: {len(sandbox.requests)} token requests, "
            f"{len(sandbox.api_requests)} API calls, all checks passed."
        )
    return 0
