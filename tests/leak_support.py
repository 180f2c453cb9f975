"""The canary harness of ``test_leaks.py``: known secrets, every output kept, every child seen.

The sandbox issues the canary tokens (``access_token_prefix``/``refresh_token_prefix`` make
every access and refresh token it hands out recognisable, rotated ones included) to a canary
client and user. :class:`LeakWatch` runs programs the way users and tools do, keeps each
stdout and stderr, and checks them, the files left in the home folder and the argv and
environment of every process that a Python program of the run started (recorded by
``tests/audit_hook/sitecustomize.py``) for the canaries, in the forms they could leak in.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from bp_helper.testing import Sandbox

from .support import TEST_KEYRINGS, Home, executable

AUDIT_HOOK = Path(__file__).parent / "audit_hook"
OUR_EXECUTABLES = ("bp-helper", "git-credential-bioprodict", "docker-credential-bioprodict")

USERNAME = "vera"
CLIENT_ID = "bp-canary"
# Each canary holds a marker (its first 12 characters) that survives URL and JSON encoding,
# so a fragment of it is found too; the rest breaks naive form encoding.
PASSWORD = "canaryPW4f1e& =+%#Äpfel"
WRONG_PASSWORD = "canaryWP2b9d& =+%#wrong"
CLIENT_SECRET = "canaryCS9b7c&=+ secret"
MACHINE_CLIENT_ID = "bp-canary-machine"
MACHINE_SECRET = "canaryMS6c0e&=+ machine"  # a client-credentials profile's client secret
ACCESS_PREFIX = "canaryAT3d5a-"
REFRESH_PREFIX = "canaryRT8e2f-"


def forms(secret: str) -> set[str]:
    """The ways ``secret`` could show up: as is, its marker, URL/JSON-encoded, base64."""
    return {
        secret,
        secret[:12],
        quote_plus(secret),
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode(),
    }


# What no output, file (but the token store and keyring) or child process may ever show.
NEVER: dict[str, set[str]] = {
    "password": forms(PASSWORD),
    "wrong password": forms(WRONG_PASSWORD),
    "client secret": forms(CLIENT_SECRET)
    | {base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()},  # Basic header
    "refresh token": {REFRESH_PREFIX[:12]},
    "machine client secret": forms(MACHINE_SECRET),
}


def canary_sandbox() -> Sandbox:
    """A sandbox with the canary client and user; every token it issues is recognisable."""
    sandbox = Sandbox(access_token_prefix=ACCESS_PREFIX, refresh_token_prefix=REFRESH_PREFIX)
    sandbox.start()
    sandbox.add_client(CLIENT_ID, CLIENT_SECRET)
    sandbox.add_user(USERNAME, PASSWORD, fullname="Vera Canary")
    sandbox.add_machine_client(MACHINE_CLIENT_ID, MACHINE_SECRET)
    return sandbox


@dataclass(frozen=True)
class Output:
    where: str
    text: str
    carrier: bool  # an answer that must carry the access token (and nothing else secret)


@dataclass
class LeakWatch:
    """Runs programs in ``home`` and remembers everything they showed."""

    home: Home
    watch_dir: Path
    outputs: list[Output] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)  # every token seen in the store
    given_env: set[tuple[str, str]] = field(default_factory=set)  # BIOPRODICT_* the test set

    @classmethod
    def make(cls, sandbox: Sandbox, tmp_path: Path) -> LeakWatch:
        watch_dir = tmp_path / "watch"
        watch_dir.mkdir()
        home = Home.make(tmp_path / "home", sandbox.env(CLIENT_ID))
        (home.root / "tmp").mkdir()
        home.env.update(
            BP_TEST_AUDIT_LOG=str(watch_dir / "children.jsonl"),
            PYTHONPATH=f"{AUDIT_HOOK}:{TEST_KEYRINGS}",
            PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
            BIOPRODICT_ALLOW_PLAINTEXT_KEYRING="1",  # the file backend stands in for a keyring
            TMPDIR=str(home.root / "tmp"),
        )
        return cls(home, watch_dir)

    @property
    def audit_log(self) -> Path:
        return self.watch_dir / "children.jsonl"

    # -- running ------------------------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        unset: Iterable[str] = (),
        carrier: bool = False,
        expect: int | None = 0,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the home (no terminal); keep its outputs; check its exit status."""
        full_env = {**self.home.env, **(env or {})}
        for name in unset:
            full_env.pop(name, None)
        self.given_env |= {(k, v) for k, v in full_env.items() if k.startswith("BIOPRODICT_")}
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=60,
            start_new_session=True,
            check=False,
            cwd=self.home.root,
        )
        where = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
        self.outputs.append(Output(f"stdout of {where}", done.stdout, carrier))
        self.outputs.append(Output(f"stderr of {where}", done.stderr, False))
        if expect is not None:
            assert done.returncode == expect, f"{where}: exit {done.returncode}\n{done.stderr}"
        self.note_tokens()
        return done

    def bp(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """``bp-helper --debug ARGS``."""
        return self.run([executable("bp-helper"), "--debug", *args], **kwargs)

    def helper(self, program: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """``git-credential-bioprodict`` or ``docker-credential-bioprodict``, with --debug."""
        return self.run([executable(program), "--debug", *args], **kwargs)

    def note_tokens(self) -> None:
        for path in self.home.store_dir.glob("*.json"):
            data = json.loads(path.read_text())
            self.tokens |= {data[k] for k in ("access_token", "refresh_token") if data.get(k)}

    # -- checking -----------------------------------------------------------------------

    def fragments(self) -> tuple[dict[str, set[str]], set[str]]:
        """(secrets that may show nowhere, forms of the access token)."""
        never = {name: set(found) for name, found in NEVER.items()}
        access = {ACCESS_PREFIX[:12]}
        for token in self.tokens:
            refresh = token.startswith(REFRESH_PREFIX)
            bare = token.removeprefix(REFRESH_PREFIX if refresh else ACCESS_PREFIX)  # the JWT
            (never["refresh token"] if refresh else access).add(bare)
        return never, access

    def check_outputs(self) -> None:
        never, access = self.fragments()
        assert self.outputs and any("debug:" in o.text for o in self.outputs)
        for output in self.outputs:
            assert "internal error" not in output.text, f"a bug in the {output.where}"
            leaked = [name for name, found in never.items() if _shows(output.text, found)]
            if not output.carrier and _shows(output.text, access):
                leaked.append("access token")
            assert not leaked, f"{', '.join(leaked)} in the {output.where}:\n{_lines(output.text)}"
            if output.carrier:  # the check above is real: this answer does carry the token
                assert _shows(output.text, access), f"no token in the {output.where}"

    def check_files(self, may_hold_access_token: Iterable[Path] = ()) -> None:
        """Every file under the home (its TMPDIR too) but the token store, the keyring and the
        config file the test wrote: no secret; the access token only in the files asked for,
        and those are 0600."""
        never, access = self.fragments()
        carriers = {Path(p) for p in may_hold_access_token}
        kept_apart = (self.home.root / "data" / "python_keyring", self.home.root / "spy")
        config = self.home.root / "config" / "bp-helper" / "config.toml"
        for path in sorted(p for p in self.home.root.rglob("*") if p.is_file()):
            if path == config or (path.parent == self.home.store_dir and path.suffix == ".json"):
                continue
            if any(folder in path.parents for folder in kept_apart):
                continue  # the keyring; integration_support.spy_curl's records
            text = path.read_bytes().decode("utf-8", "replace")
            for name, found in never.items():
                assert not _shows(text, found), f"{name} in {path}:\n{_lines(text)}"
            if _shows(text, access):
                assert path in carriers, f"access token in {path}:\n{_lines(text)}"
                assert path.stat().st_mode & 0o777 == 0o600, f"{path} is not private"
        for path in carriers:  # the check above is real: they do hold the token
            assert _shows(path.read_text(), access), f"no token in {path}"

    def children(self) -> list[dict[str, Any]]:
        lines = self.audit_log.read_text().splitlines() if self.audit_log.exists() else []
        return [json.loads(line) for line in lines]

    def check_children(self, *expected: tuple[str, Callable[[dict[str, Any]], bool]]) -> None:
        """No canary in the argv of any recorded process; none in the environment of a child
        of bp-helper's executables (they pass no secret variable on); elsewhere only the
        BIOPRODICT_* variables the test itself set (for a child: its parent had it at start).
        And each ``expected`` (description, match) was seen."""
        never, access = self.fragments()
        found = set().union(*never.values(), access)
        records = self.children()
        parents: dict[int, tuple[bool, set[tuple[str, str]]]] = {}  # pid -> (ours, env)
        for record in records:
            what = f"{record['event']} {' '.join(record['argv'])[:300]!r}"
            assert not _shows("\0".join(record["argv"]), found), f"a canary in the argv of {what}"
            if record["event"] == "start":
                ours = any(started(name)(record) for name in OUR_EXECUTABLES)
                parents[record["pid"]] = ours, set(record["env"].items())
                allowed = self.given_env
            else:
                ours, inherited = parents.get(record["pid"], (True, set()))
                allowed = set() if ours else inherited
            for name, value in record["env"].items():
                if _shows(f"{name}={value}", found):
                    assert name.startswith("BIOPRODICT_") and (name, value) in allowed, (
                        f"a canary in {name} of {what}"
                    )
        for description, match in expected:
            assert any(match(r) for r in records), f"the audit hook never saw {description}"


def _shows(text: str, fragments: Iterable[str]) -> bool:
    return any(fragment and fragment in text for fragment in fragments)


def _lines(text: str) -> str:
    """The lines of ``text`` that hold a canary marker (what a failed check shows)."""
    secrets = (PASSWORD, WRONG_PASSWORD, CLIENT_SECRET, MACHINE_SECRET)
    markers = [secret[:12] for secret in secrets]
    markers += [ACCESS_PREFIX[:12], REFRESH_PREFIX[:12]]
    found = [line[:400] for line in text.splitlines() if _shows(line, markers)]
    return "\n".join(found[:10]) or text[:1000]


def started(program: str) -> Callable[[dict[str, Any]], bool]:
    """Matches the start record of a Python process running ``program``."""
    return lambda r: r["event"] == "start" and any(Path(a).name == program for a in r["argv"][:2])


def spawned(
    event: str, name: str, args: Callable[[list[str]], bool] = lambda a: True
) -> Callable[[dict[str, Any]], bool]:
    """Matches a child process start of ``name`` (by ``event``) whose arguments pass ``args``."""
    return lambda r: r["event"] == event and Path(r["argv"][0]).name == name and args(r["argv"][1:])
