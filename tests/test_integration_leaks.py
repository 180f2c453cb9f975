"""The canary idea for the integrations: the access token shows up only where it was asked for."""

from __future__ import annotations

import subprocess

from bp_helper.testing import DEMO_USERS, Sandbox

from .integration_support import Recorder, login
from .support import Home

# Outputs whose stdout is the token, by design.
CARRIERS = {("token",), ("curl-config",), ("netrc",)}


def test_only_token_curl_config_and_netrc_outputs_carry_the_access_token(
    sandbox: Sandbox, home: Home
) -> None:
    login(home)
    home.env["BIOPRODICT_PASSWORD"] = DEMO_USERS["alice"].password
    stdouts: dict[tuple[str, ...], str] = {}
    others: list[str] = []

    def run(*args: str, program: str = "bp-helper", **env: str) -> None:
        argv = ["--debug", *args] if program == "bp-helper" else list(args)
        done: subprocess.CompletedProcess[str] = home.run(argv, program=program, env=env)
        others.append(done.stderr)
        if program == "bp-helper" and args in CARRIERS:
            stdouts[args] = done.stdout
        else:
            others.append(done.stdout)

    with Recorder() as unbound:
        for revoked in (False, True):
            if revoked:  # the same again, after HTTPie renewed a token the server revoked
                sandbox.revoke_access_tokens()
            run("--ignore-stdin", "--auth-type=bioprodict", sandbox.api_url, program="http")
            run("token")
            run("curl-config")
            run("curl-config", "--output", str(home.root / "bp.curlrc"))
            run("netrc")
            run("netrc", "--output", str(home.root / "netrc"))
            run("curl", "-sS", sandbox.api_url + "wrapped")
            run("curl", "-sS", unbound.url)
            run("curl", "-sS", "-K", "x", sandbox.api_url)
            run("--ignore-stdin", "--auth-type=bioprodict", unbound.url, program="http")
            run("--ignore-stdin", "-ax:y", "--auth-type=bioprodict", unbound.url, program="http")
        assert all("authorization" not in seen.headers for seen in unbound.seen)
    tokens = {r.headers["authorization"].split()[1] for r in sandbox.api_requests}
    tokens |= {home.stored()["access_token"]}
    assert len(tokens) >= 2  # a token before and after the revocation
    assert any("debug:" in text for text in others)
    for text in others:
        for secret in (*tokens, home.stored()["refresh_token"], DEMO_USERS["alice"].password):
            assert secret not in text, f"a secret leaked into: {text[:300]!r}"
    for args, text in stdouts.items():
        assert any(token in text for token in tokens), args  # the check above is real
