"""The demo's steps for the credential helpers: real ``git credential fill`` and the docker helper.

Called by :func:`bp_helper.demo.walkthrough.cmd_demo` on the sandbox, in the demo's throwaway
home. The helpers run as git and docker run them: the installed executables found on
``PATH`` (or, when this Python has no such scripts, ``python -m bp_helper git|docker``).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys

from bp_helper.demo.narration import BIN, Walkthrough, call_api
from bp_helper.testing import Sandbox


def helper(name: str) -> list[str]:
    """How to start a helper: its executable, or this Python running ``bp_helper``."""
    found = shutil.which(f"{name}-credential-bioprodict", path=str(BIN))
    return [found] if found else [sys.executable, "-m", "bp_helper", name]


def git_steps(demo: Walkthrough, sandbox: Sandbox) -> None:
    demo.step("git: `git credential fill` asks git-credential-bioprodict")
    if shutil.which("git") is None:
        demo.say("git is not installed here: skipped")
        return
    command = helper("git")
    setting = "bioprodict" if len(command) == 1 else "!" + shlex.join(command)
    (demo.home / ".gitconfig").write_text(
        f"[credential]\n\thelper = {setting}\n\tuseHttpPath = false\n"
    )
    demo.say("~/.gitconfig of the demo home:")
    demo.say(f"  [credential] helper = {setting}, useHttpPath = false")
    request = f"protocol=https\nhost={sandbox.netloc}\n\n"
    done = demo.run_tool(
        ["git", "credential", "fill"],
        shown=f"printf 'protocol=https\\nhost={sandbox.netloc}\\n\\n' | git credential fill",
        stdin=request,
        extra_env={"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"},
    )
    answer = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    demo.check(answer.get("username") == "alice", "git got the username alice")
    reply = call_api(sandbox, "repo.git/info/refs", answer.get("password", ""))
    demo.check(reply.get("username") == "alice", "git's password is a token the API accepts")
    demo.say("git 2.46+ also gets `authtype=Bearer` and `credential=<token>` when it asks.")

    other = demo.run_tool(
        ["git", "credential", "fill"],
        shown="printf 'protocol=https\\nhost=example.org\\n\\n' | git credential fill",
        stdin="protocol=https\nhost=example.org\n\n",
        expect=128,
        extra_env={"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"},
    )
    demo.check("password=" not in other.stdout, "another host gets nothing from bp-helper")


def docker_steps(demo: Walkthrough, sandbox: Sandbox) -> None:
    demo.step("docker: the docker-credential-bioprodict helper")
    demo.say(f'~/.docker/config.json: {{"credHelpers": {{"{sandbox.netloc}": "bioprodict"}}}}')
    command = helper("docker")
    name = "docker-credential-bioprodict"
    done = demo.run_tool(
        [*command, "get"], shown=f"echo {sandbox.netloc} | {name} get", stdin=sandbox.netloc
    )
    answer = json.loads(done.stdout)
    demo.check(answer.get("Username") == "alice", "docker got the username alice")
    reply = call_api(sandbox, "v2/", str(answer.get("Secret")))
    demo.check(reply.get("username") == "alice", "docker's secret is a token the API accepts")
    listed = demo.run_tool([*command, "list"], shown=f"{name} list")
    demo.check(json.loads(listed.stdout) == {sandbox.netloc: "alice"}, "list names the bound host")
    unbound = demo.run_tool(
        [*command, "get"],
        shown=f"echo registry.example.org | {name} get",
        stdin="registry.example.org",
        expect=1,
    )
    demo.check(
        unbound.stdout == "credentials not found in native keychain\n",
        "an unbound server is docker's 'not found'",
    )


def docker_login_steps(demo: Walkthrough, sandbox: Sandbox, password: str) -> None:
    demo.step("docker login: `store` logs in with a password; `erase` logs out")
    command = helper("docker")
    name = "docker-credential-bioprodict"
    before = len(sandbox.token_requests("password"))
    request = json.dumps({"ServerURL": sandbox.netloc, "Username": "alice", "Secret": password})
    shown = json.dumps({"ServerURL": sandbox.netloc, "Username": "alice", "Secret": "<password>"})
    demo.run_tool([*command, "store"], shown=f"echo '{shown}' | {name} store", stdin=request)
    demo.check(len(sandbox.token_requests("password")) == before + 1, "one password grant")
    token_file = demo.home / ".local" / "state" / "bp-helper" / "tokens" / "default.json"
    demo.check(password not in token_file.read_text(), "the password itself is not stored")
    got = demo.run_tool(
        [*command, "get"], shown=f"echo {sandbox.netloc} | {name} get", stdin=sandbox.netloc
    )
    demo.check(json.loads(got.stdout).get("Username") == "alice", "logged in again")
    demo.run_tool(
        [*command, "erase"],
        shown=f"echo {sandbox.netloc} | {name} erase",
        stdin=sandbox.netloc,
    )
    demo.check(not token_file.exists(), "erase logged the profile out")
