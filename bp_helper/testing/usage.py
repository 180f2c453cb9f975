"""What ``bp-helper sandbox`` prints: where the sandbox is, its accounts, and what to try."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from bp_helper.testing.auth0 import DEMO_MACHINE_CLIENTS
from bp_helper.testing.issuer import DEMO_CLIENTS, DEMO_USERS

if TYPE_CHECKING:  # the server imports this module
    from bp_helper.testing.server import Sandbox


def usage(sandbox: Sandbox) -> str:
    """The text ``Sandbox.serve_forever_cli`` prints."""
    q = shlex.quote
    ca = q(str(sandbox.ca_file or sandbox.ca_path))
    alice = DEMO_USERS["alice"]
    lines = [
        "bp-helper sandbox: a local stand-in of the Bio-Prodict token server",
        "",
        f"  token URL  {sandbox.token_url}",
        f"  API        {sandbox.api_url}...  (any path below it; needs a Bearer token)",
        (
            f"  CA         {sandbox.ca_file}  (kept; rewritten on every start)"
            if sandbox.ca_file
            else f"  CA         {sandbox.ca_path}  (deleted when the sandbox stops; "
            "--ca-file FILE keeps one)"
        ),
        "",
        "Point bp-helper, curl, git and requests at it, in a separate shell: these variables",
        "make pip and every other tool in that shell trust only the sandbox's CA:",
        "",
        *(f"  export {name}={q(value)}" for name, value in sandbox.env().items()),
        "",
        "Demo accounts:",
    ]
    for user in DEMO_USERS.values():
        note = ""
        if user.twofactor is not None:
            note = f"  (two-factor code: {user.twofactor})"
        if user.locked:
            note = "  (locked: every login fails)"
        lines.append(f"  {user.username:<6} password: {q(user.password)}{note}")
    lines += ["", "Demo clients:"]
    for client in DEMO_CLIENTS.values():
        secret = q(client.secret) if client.secret else "(empty secret)"
        kind = "refresh tokens" if client.refresh else "no refresh tokens"
        lines.append(f"  {client.client_id:<13} secret: {secret}  ({kind})")
    lines += ["", "Demo machine clients (client credentials, at the Auth0-style token URL):"]
    for machine in DEMO_MACHINE_CLIENTS.values():
        apis = ", ".join(machine.audiences) or "no API"
        lines.append(f"  {machine.client_id:<13} secret: {q(machine.secret)}  (audience: {apis})")
    lines += [
        "",
        f"  machine token URL  {sandbox.machine_token_url}",
        f"  prediction API     {sandbox.prediction_url}...  (needs a machine token)",
        "",
        "  A machine profile, in a separate shell:",
        "",
        *(
            f"  export {name}={q(value)}"
            for name, value in sandbox.machine_env().items()
            if name.startswith("BIOPRODICT_")
        ),
        "",
        "Try it:",
        "",
        "  bp-helper login --username alice",
        f"  bp-helper curl --cacert {ca} -sS {sandbox.api_url}hello",
        "  (curl gets the token on a pipe, never on a command line that `ps` shows)",
        "",
        "or by hand, without bp-helper:",
        "",
        f"  curl --cacert {ca} -u bp-demo:demo-secret -d grant_type=password "
        f"-d username=alice --data-urlencode {q('password=' + alice.password)} "
        f"-d client_id=bp-demo -d client_secret=demo-secret {sandbox.token_url}",
        "",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)
