"""curl: `bp-helper curl-config` with the real curl, and the `bp-helper curl` wrapper."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from bp_helper.testing import Sandbox

from .integration_support import Recorder, login, run_curl, spy_calls, spy_curl
from .support import Home, imported_modules, one_line_error


def test_curl_config_works_with_real_curl(sandbox: Sandbox, home: Home) -> None:
    token = login(home)
    printed = home.bp("curl-config")
    assert printed.returncode == 0, printed.stderr
    assert f'header = "Authorization: Bearer {token}"\n' in printed.stdout
    assert "not across redirects to other hosts" in printed.stdout
    # from stdin: the token is never on a command line
    done = run_curl(
        home, "-sS", "--fail", "-K", "-", sandbox.api_url + "stdin", input=printed.stdout
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["username"] == "alice"
    # from a file
    path = home.root / "bp.curlrc"
    path.write_text("old content")
    path.chmod(0o644)
    written = home.bp("curl-config", "--output", str(path))
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == printed.stdout
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".bp.curlrc")] == []
    done = run_curl(home, "-sS", "--fail", "-K", str(path), sandbox.api_url + "file")
    assert done.returncode == 0, done.stderr
    assert [r.headers["authorization"] for r in sandbox.api_requests] == [f"Bearer {token}"] * 2


def test_curl_config_help_says_where_the_header_goes(home: Home) -> None:
    helped = home.bp("curl-config", "--help")
    assert "every URL" in helped.stdout and "not across redirects to other hosts" in helped.stdout


def test_config_header_is_not_sent_across_a_redirect_to_another_host(
    sandbox: Sandbox, home: Home
) -> None:
    """What the help text promises, checked with the real curl: A (bound) redirects to B."""
    with Recorder() as other, Recorder(redirect_to=other.url.rstrip("/")) as bound:
        home.env["BIOPRODICT_HOSTS"] = f"{sandbox.netloc},{bound.netloc}"
        token = login(home)
        config = home.root / "bp.curlrc"
        assert home.bp("curl-config", "--output", str(config)).returncode == 0
        done = run_curl(home, "-sS", "-L", "-K", str(config), bound.url + "start")
        assert done.returncode == 0, done.stderr
        assert [s.headers.get("authorization") for s in bound.seen] == [f"Bearer {token}"]
        assert [(s.path, s.headers.get("authorization")) for s in other.seen] == [("/start", None)]
        # the wrapper follows the same rule
        done = home.bp("curl", "-sS", "-L", bound.url + "wrapped")
        assert done.returncode == 0, done.stderr
        assert bound.seen[-1].headers.get("authorization") == f"Bearer {token}"
        assert other.seen[-1].path == "/wrapped"
        assert other.seen[-1].headers.get("authorization") is None


def test_bp_helper_curl_never_puts_the_token_in_argv_or_environment(
    sandbox: Sandbox, home: Home
) -> None:
    token = login(home)
    secrets = {
        "BIOPRODICT_PASSWORD": "canary-password-1234",
        "BIOPRODICT_TWOFACTOR": "987654",
    }
    home.env.update(secrets)
    with spy_curl(home) as records:
        done = home.bp("curl", "-sS", "--fail", sandbox.api_url + "spied")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["path"] == "/api/spied"
        assert sandbox.api_requests[-1].headers["authorization"] == f"Bearer {token}"
        calls = spy_calls(records)
    argv, _ = calls[-1]  # (earlier calls: `curl --help all`, to learn the options)
    assert argv[:3] == ["-q", "-K", argv[2]] and argv[2].startswith("/dev/fd/")
    assert argv[3:] == ["-sS", "--fail", sandbox.api_url + "spied"]
    for call_argv, call_env in calls:
        text = "\0".join(call_argv + call_env)
        assert token not in text
        assert home.env["BIOPRODICT_CLIENT_SECRET"] not in text
        for name, value in secrets.items():
            assert value not in text and not any(e.startswith(name + "=") for e in call_env)


def test_bp_helper_curl_keeps_stdin_and_curls_exit_status(sandbox: Sandbox, home: Home) -> None:
    login(home)
    done = home.bp("curl", "-sS", "--data-binary", "@-", sandbox.api_url + "upload", input="data")
    assert done.returncode == 0, done.stderr
    assert sandbox.api_requests[-1].raw_body == b"data"
    assert sandbox.api_requests[-1].method == "POST"
    rejected = home.bp("curl", "-sS", "--fail", sandbox.api_url, env={"BIOPRODICT_TOKEN": "bad"})
    assert rejected.returncode == 22  # curl's "HTTP error" status, passed through
    assert "401" in rejected.stderr
    version = home.bp("curl", "--version", env={"BIOPRODICT_TOKEN": ""})
    assert version.returncode == 0 and version.stdout.startswith("curl ")


def test_bp_helper_curl_understands_curl_options(sandbox: Sandbox, home: Home) -> None:
    token = login(home)
    out = home.root / "out.json"
    done = home.bp(
        "curl",
        "-sSfo",
        str(out),
        "-H",
        "X-Test: 1",
        "--max-ti",  # curl takes unambiguous prefixes of long options
        "20",
        "--url",
        sandbox.api_url + "via-url",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["path"] == "/api/via-url"
    assert sandbox.api_requests[-1].headers["x-test"] == "1"
    assert sandbox.api_requests[-1].headers["authorization"] == f"Bearer {token}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{other}x"], "refusing to send the Bio-Prodict token to http://127.0.0.1:"),
        (["{api}ok", "{other}x"], "profile 'default' is bound"),
        (["{api}ok", "--next", "{other}x"], "refusing"),
        (["--url", "{other}x"], "refusing"),
        (["-o", "/dev/null", "--", "{other}x"], "refusing"),
        (["127.0.0.1/x"], "give a full https:// URL"),
        (["http://example.org/x"], "plain http is only for this machine"),
        (["-K", "other.curlrc", "{api}"], "refuses --config"),
        (["--location-trusted", "{api}"], "refuses --location-trusted"),
        (["--no-such-option", "{api}"], "unknown curl option --no-such-option"),
        (["--ur", "{api}"], "ambiguous curl option --ur"),
        (["--connect-to", "::{other_netloc}", "{api}"], "refuses --connect-to"),
        (["--resolve", "{api_host}:127.0.0.2", "{api}"], "refuses --resolve"),
        (["--doh-url", "{other}dns", "{api}"], "refuses --doh-url"),
        (["--unix-socket", "/tmp/x.sock", "{api}"], "refuses --unix-socket"),
        (["--alt-svc", "altsvc.txt", "{api}"], "refuses --alt-svc"),
        (["--expand-url", "{api}"], "refuses --expand-url"),
        (["--url", "@urls.txt"], "refuses --url @FILE"),
    ],
)
def test_bp_helper_curl_refuses_what_it_cannot_vouch_for(
    sandbox: Sandbox, home: Home, args: list[str], message: str
) -> None:
    login(home)
    with Recorder() as other, spy_curl(home) as records:
        filled = [
            a.format(
                api=sandbox.api_url,
                other=other.url,
                other_netloc=other.netloc,
                api_host=sandbox.netloc.replace("127.0.0.1", "localhost"),
            )
            for a in args
        ]
        done = home.bp("curl", "-sS", *filled)
        assert done.returncode == 2
        assert message in one_line_error(done)
        assert other.seen == [] and sandbox.api_requests == []
        assert all(argv[:2] in (["--help", "all"], ["--help"]) for argv, _ in spy_calls(records))


def test_bp_helper_options_go_before_curl(sandbox: Sandbox, home: Home) -> None:
    login(home)
    done = home.bp("--profile", "default", "curl", "-sS", "--fail", sandbox.api_url + "p")
    assert done.returncode == 0, done.stderr
    # after `curl`, everything is curl's: this --profile is an unknown curl option
    done = home.bp("curl", "--profile", "default", sandbox.api_url)
    assert done.returncode == 2
    assert "unknown curl option --profile" in one_line_error(done)


def test_curl_paths_import_no_network_stack(sandbox: Sandbox, home: Home) -> None:
    login(home)
    for args in (["curl-config"], ["netrc"], ["curl", "-sS", "--fail", sandbox.api_url]):
        done = home.bp(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert done.returncode == 0, done.stderr
        modules = {m.split(".")[0] for m in imported_modules(done.stderr)}
        assert {"bp_helper", "bp_helper_integrations"} <= modules  # the report is real
        assert modules.isdisjoint({"requests", "urllib3", "oauthlib", "keyring"}), args


def test_dash_q_stays_curls_first_argument(sandbox: Sandbox, home: Home) -> None:
    login(home)
    with spy_curl(home) as records:
        done = home.bp("curl", "-q", "-sS", "--fail", sandbox.api_url + "q")
        assert done.returncode == 0, done.stderr
        argv, _ = spy_calls(records)[-1]
    assert argv[:2] == ["-q", "-K"] and argv[3:] == ["-sS", "--fail", sandbox.api_url + "q"]


def test_bp_helper_curl_reads_no_curlrc(sandbox: Sandbox, home: Home) -> None:
    login(home)
    with Recorder() as other:
        line = f'url = "{other.url}from-curlrc"\nlocation-trusted\n'
        for path in (home.root / ".curlrc", home.root / "config" / ".curlrc"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(line)
        (home.root / "config" / "curlrc").write_text(line)
        done = home.bp("curl", "-sS", "-o", "/dev/null", sandbox.api_url + "ok")
        assert done.returncode == 0, done.stderr
        assert other.seen == []
    assert len(sandbox.api_requests) == 1


def test_bp_helper_curl_sends_plain_http_through_no_proxy(sandbox: Sandbox, home: Home) -> None:
    login(home)
    with Recorder() as api, Recorder() as proxy:
        home.env["BIOPRODICT_HOSTS"] = f"{sandbox.netloc},{api.netloc}"
        done = home.bp("curl", "-sS", "-x", proxy.url, api.url + "x")
        assert done.returncode == 2
        assert "refuses --proxy for a plain http URL" in one_line_error(done)
        done = home.bp(
            "curl", "-sS", "-o", "/dev/null", api.url + "y", env={"http_proxy": proxy.url}
        )
        assert done.returncode == 0, done.stderr
        assert proxy.seen == []
        assert len(api.seen) == 1


def test_the_tools_doc_says_which_urls_bp_helper_curl_refuses() -> None:
    """docs/tools.md said "a URL without https://" is refused, while plain http to a loopback
    host is served (test_bp_helper_curl_sends_plain_http_through_no_proxy) and plain http
    elsewhere is refused (test_bp_helper_curl_refuses_what_it_cannot_vouch_for)."""
    text = " ".join((Path(__file__).parents[1] / "docs" / "tools.md").read_text().split())
    said = text.split("It refuses (exit status 2, nothing started)", 1)[1].split(".", 1)[0]
    assert "without `https://`" not in said
    assert "a URL without a scheme" in said
    assert "plain `http://` URL unless its host is this machine" in said


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_curl_help_is_the_wrappers_help(home: Home, flag: str) -> None:
    done = home.bp("curl", flag)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: bp-helper [options] curl [curl arguments...]")
