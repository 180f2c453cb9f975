"""The integration steps of ``bp-helper demo``: HTTPie, curl, netrc and requests at work."""

from __future__ import annotations

import importlib.util
import json
import shlex
import shutil
import stat
import sys
from pathlib import Path

from bp_helper.demo.narration import Walkthrough
from bp_helper.install import install_command

REQUESTS_SNIPPET = (
    "import sys, requests, bp_helper; "
    "print(requests.get(sys.argv[1], auth=bp_helper.BioProdictAuth(), timeout=30).text)"
)


def show_integrations(demo: Walkthrough) -> None:
    sandbox = demo.sandbox
    url = sandbox.api_url + "demo/"
    q = shlex.quote

    def last_authorization() -> str:
        return sandbox.api_requests[-1].headers.get("authorization", "")

    demo.step("HTTPie: `http --auth-type=bioprodict` (the plugin bp-helper installs)")
    if importlib.util.find_spec("httpie") is None:
        demo.say(f"HTTPie is not installed here; `{install_command('httpie')}` adds it.")
    else:
        found = shutil.which("http", path=str(Path(sys.executable).parent))
        http = [found] if found else [sys.executable, "-m", "httpie"]
        http.append("--ignore-stdin")  # HTTPie would read a request body from our stdin
        done = demo.run_tool(
            [*http, "--auth-type=bioprodict", f"{url}httpie"],
            shown=f"http --auth-type=bioprodict {url}httpie",
        )
        demo.check(json.loads(done.stdout).get("username") == "alice", "HTTP 200, as alice")
        demo.check(last_authorization().startswith("Bearer "), "the token went as a Bearer header")
        done = demo.run_tool(
            [*http, "--auth-type=bioprodict", "https://example.org/"],
            shown="http --auth-type=bioprodict https://example.org/",
            expect=1,
        )
        demo.check("refusing to send" in done.stderr, "a host that is not bound gets no token")

    curl = shutil.which("curl")
    demo.step("curl: a generated config for `curl -K`, and `bp-helper curl`")
    if curl is None:
        demo.say("curl is not installed here; the curl steps are skipped.")
    else:
        config = demo.home / "bioprodict.curlrc"
        demo.run(["curl-config", "--output", str(config)])
        mode = stat.S_IMODE(config.stat().st_mode)
        holds = 'header = "Authorization: Bearer ' in config.read_text()
        demo.check(mode == 0o600 and holds, f"{config.name} holds the header; mode {mode:04o}")
        done = demo.run_tool(
            [curl, "-sS", "--fail", "-K", str(config), f"{url}curl"],
            shown=f"curl -sS --fail -K {q(config.name)} {url}curl",
        )
        demo.check(json.loads(done.stdout).get("username") == "alice", "HTTP 200 with curl -K")
        demo.say("`bp-helper curl` hands curl the header on a pipe (-K /dev/fd/N):")
        done = demo.run(["curl", "-sS", "--fail", f"{url}wrapped"])
        demo.check(json.loads(done.stdout).get("path") == "/api/demo/wrapped", "HTTP 200")
        done = demo.run(["curl", "-sS", "https://example.org/"], expect=2)
        demo.check("refusing" in done.stderr, "refused for a host that is not bound")

        demo.step("netrc: the token as a password, which curl sends as Basic auth")
        netrc = demo.home / "netrc"
        netrc.write_text("# my other credentials\nmachine ftp.example.org login me password pw\n")
        demo.run(["netrc", "--output", str(netrc)])
        kept = netrc.read_text().startswith("# my other credentials\nmachine ftp.example.org")
        demo.check(kept, "the other entry and the comment are still there")
        sandbox.accept_basic_token = True  # this gateway takes user:token as Basic auth
        try:
            done = demo.run_tool(
                [curl, "-sS", "--fail", "--netrc-file", str(netrc), f"{url}netrc"],
                shown=f"curl -sS --fail --netrc-file netrc {url}netrc",
            )
        finally:
            sandbox.accept_basic_token = False
        demo.check(last_authorization().startswith("Basic "), "curl sent Basic alice:<token>")

    demo.step("Python: requests.get(url, auth=bp_helper.BioProdictAuth())")
    done = demo.run_tool(
        [sys.executable, "-c", REQUESTS_SNIPPET, f"{url}python"],
        shown=f"python3 -c {q(REQUESTS_SNIPPET)} {url}python",
    )
    demo.check(json.loads(done.stdout).get("username") == "alice", "HTTP 200, as alice")
