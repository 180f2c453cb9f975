"""The R recipe of docs/python-and-r.md, run by Debian's R (httr2 and curl) against the sandbox.

``bioprodict_token()`` is taken from the document as it is; the requests around it are the
document's, pointed at the sandbox (whose CA R's curl is told about: libcurl reads no CA
variable from the environment).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bp_helper.testing import Sandbox

from .integration_support import login
from .support import BIN, Home

pytestmark = pytest.mark.real_clients

DOC = Path(__file__).resolve().parent.parent / "docs" / "python-and-r.md"
RSCRIPT = shutil.which("Rscript")


def r_blocks() -> list[str]:
    return re.findall(r"^```r\n(.*?)^```$", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)


def token_function() -> str:
    (block,) = [b for b in r_blocks() if "bioprodict_token <- function" in b]
    return block


@functools.cache
def r_is_ready() -> bool:
    """Rscript, with the httr2, curl and jsonlite packages."""
    if RSCRIPT is None:
        return False
    check = "quit(status = !all(sapply(c('httr2', 'curl', 'jsonlite'), requireNamespace)))"
    done = subprocess.run([RSCRIPT, "--vanilla", "-e", check], capture_output=True, timeout=120)
    return done.returncode == 0


def run_r(home: Home, script: str) -> subprocess.CompletedProcess[str]:
    if not r_is_ready():
        reason = "R with httr2, curl and jsonlite is not installed (Debian: see .ci/run)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    assert RSCRIPT is not None
    path = home.root / "recipe.R"
    path.write_text(script)
    env = {**home.env, "PATH": f"{BIN}:{home.env['PATH']}"}
    return subprocess.run(
        [RSCRIPT, "--vanilla", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=home.root,
        start_new_session=True,  # no terminal, as under Rscript in a job
    )


def test_the_r_recipe_gets_200_with_httr2_and_curl(sandbox: Sandbox, home: Home) -> None:
    token = login(home)
    httr2, curl = (b for b in r_blocks() if "library(" in b)
    url = "https://api.bio-prodict.nl/persistence3dm/..."
    assert url in httr2 and url in curl  # the document's requests, as written there
    ca = str(sandbox.ca_path)
    script = "\n".join(
        [
            token_function(),
            httr2.replace(url, sandbox.api_url + "r-httr2").replace(
                "req_perform()", f'req_options(cainfo = "{ca}") |>\n  req_perform()'
            ),
            'cat("httr2", resp_status(resp), resp_body_json(resp)$username, "\\n")',
            curl.replace(url, sandbox.api_url + "r-curl").replace(
                "handle <- new_handle()", f'handle <- new_handle(cainfo = "{ca}")'
            ),
            'cat("curl", resp$status_code, jsonlite::fromJSON(rawToChar(resp$content))$username,'
            ' "\\n")',
        ]
    )
    done = run_r(home, script)
    assert done.returncode == 0, done.stderr
    assert "httr2 200 alice" in done.stdout and "curl 200 alice" in done.stdout
    assert [r.path for r in sandbox.api_requests] == ["/api/r-httr2", "/api/r-curl"]
    assert all(r.headers["authorization"] == f"Bearer {token}" for r in sandbox.api_requests)
    assert token not in done.stdout + done.stderr


def test_the_r_recipe_stops_with_the_helpers_message_without_a_login(
    sandbox: Sandbox, home: Home
) -> None:
    done = run_r(home, token_function() + "\nbioprodict_token()\n")
    assert done.returncode != 0
    assert "bp-helper token failed (exit status 3)" in done.stderr
    assert "bp-helper: login needed" in done.stderr  # the helper's own line, on R's console
    assert sandbox.requests == []
