"""The demo's machine-account steps: a client-credentials profile next to the password one.

The sandbox's Auth0 stand-in plays the prediction API's tenant, and its prediction-style
resource the API (on ``localhost``, another host than the 3DM one). From here on the demo's
settings come from one config file with two profiles, as the docs show it, instead of the
environment.
"""

from __future__ import annotations

import json
import shlex
import sys

from bp_helper.demo.helper_steps import helper
from bp_helper.demo.narration import Walkthrough, call_api, short
from bp_helper.testing import PREDICTION_AUDIENCE, Sandbox

SCRIPT = (
    "import sys, requests, bp_helper; "
    "print(requests.get(sys.argv[1], auth=bp_helper.BioProdictAuth(), timeout=30).text)"
)


def two_profile_config(sandbox: Sandbox, secret_file: str) -> str:
    ca = json.dumps(str(sandbox.ca_path))
    return (
        "[profiles.default]            # 3DM: the password grant\n"
        f'token_url = "{sandbox.token_url}"\n'
        'client_id = "bp-demo"\n'
        'client_secret = "demo-secret"\n'
        f"ca_bundle = {ca}\n"
        "\n"
        "[profiles.predictions]        # the prediction API: a machine account\n"
        'grant = "client_credentials"\n'
        f'token_url = "{sandbox.machine_token_url}"\n'
        f'audience = "{PREDICTION_AUDIENCE}"\n'
        f'hosts = ["{sandbox.prediction_netloc}"]\n'
        'client_id = "bp-predict"\n'
        f"client_secret_command = {json.dumps(['cat', secret_file])}\n"
        f"ca_bundle = {ca}\n"
    )


def machine_steps(demo: Walkthrough, sandbox: Sandbox) -> None:
    demo.step("a machine account: the prediction API's client credentials, next to 3DM")
    secret = demo.home / "prediction-secret"
    secret.write_text(sandbox.machine_clients["bp-predict"].secret + "\n")
    secret.chmod(0o600)
    config = demo.home / ".config" / "bp-helper" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(two_profile_config(sandbox, str(secret)))
    config.chmod(0o600)
    # From here on the config file alone says what each profile is.
    demo.env = {k: v for k, v in demo.env.items() if not k.startswith("BIOPRODICT_")}
    demo.env["BIOPRODICT_NONINTERACTIVE"] = "1"
    demo.say(f"{config} (the client secret comes from a command, not the file):")
    for line in config.read_text().splitlines():
        demo.say(f"  {line}")
    before = len(sandbox.requests)
    token = demo.run(["--profile", "predictions", "token"], show_output=False).stdout.strip()
    demo.say(f"stdout: {short(token)}")
    grants = sandbox.requests[before:]
    demo.check(
        [r.grant_type for r in grants] == ["client_credentials"],
        "one client-credentials grant; no username, password or refresh token anywhere",
    )
    fields = sorted(grants[0].form) if grants else []
    demo.check(
        fields == ["audience", "client_id", "client_secret", "grant_type"],
        f"the request carried exactly {', '.join(fields)}",
    )
    answer = call_api(sandbox, "variants", token, base=sandbox.prediction_url, name="prediction")
    demo.check(answer.get("client_id") == "bp-predict", "the prediction API accepts the token")
    demo.run(["--profile", "predictions", "status"])

    request = f"protocol=https\nhost={sandbox.prediction_netloc}\n\n"
    git = helper("git")
    got = demo.run_tool(
        [*git, "get"],
        shown=f"printf 'protocol=https\\nhost={sandbox.prediction_netloc}\\n\\n' "
        "| git-credential-bioprodict get",
        stdin=request,
    )
    demo.check(f"password={token}" in got.stdout, "git's helper picks the profile by host")
    docker = demo.run_tool(
        [*helper("docker"), "get"],
        shown=f"echo {sandbox.prediction_netloc} | docker-credential-bioprodict get",
        stdin=sandbox.prediction_netloc,
    )
    demo.check(json.loads(docker.stdout).get("Secret") == token, "so does docker's")
    url = sandbox.prediction_url + "variants"
    done = demo.run_tool(
        [sys.executable, "-c", SCRIPT, url],
        shown=f"python3 -c {shlex.quote(SCRIPT)} {url}",
        extra_env={"REQUESTS_CA_BUNDLE": str(sandbox.ca_path)},
    )
    demo.check('"client_id":"bp-predict"' in done.stdout, "a Python script, with no secret in it")
    demo.check(len(sandbox.requests) == before + 1, "all of it from the one cached token")
