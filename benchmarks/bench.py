"""bp-helper benchmark: medians and ratios, all measured in one run against the sandbox.

    python benchmarks/bench.py           # full run (about a minute)
    python benchmarks/bench.py --quick   # a few repetitions: checks that it works (CI)

What it reports:

- start-up: cached ``bp-helper token`` and cached ``git-credential-bioprodict get`` against
  ``python -c pass`` in the same venv and against ``git credential-store get`` (C);
- the desktop case: cached ``git-credential-bioprodict get`` with the settings in a config
  file of 3 profiles, and of 101 profiles, instead of environment variables;
- HTTPie: ``http --offline`` start-up in this venv (plugin installed) against a venv with
  the same packages but bp-helper (links made in a temporary folder; nothing downloaded);
- burst: 32 callers on an expired token (threads in one process, and processes), their wall
  time against a single refresh, and how many token requests the server saw.

It measures; it never fails on a number. Targets are printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bp_helper.config.settings import Settings
from bp_helper.engine.service import TokenService
from bp_helper.testing import DEMO_USERS, Sandbox

BIN = Path(sys.executable).parent
ALICE = DEMO_USERS["alice"]
BIOPRODICT_TOKEN_EXE = BIN / "bp-helper"


def burst_child(count: int) -> None:
    """In a process of its own: ``count`` threads ask for a token at once; print the wall time."""
    barrier = threading.Barrier(count + 1)
    tokens: list[str] = []

    def caller() -> None:
        barrier.wait()
        tokens.append(TokenService(Settings()).get().access_token)

    threads = [threading.Thread(target=caller) for _ in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if len(tokens) != count or len(set(tokens)) != 1:
        raise SystemExit(f"bench: {len(tokens)} of {count} callers got {len(set(tokens))} tokens")
    print(wall)


def interleaved_medians(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds of each action, run in turns so that machine noise hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for action in actions.values():
        action()  # warm the page cache
    for _ in range(runs):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def command(
    argv: Sequence[str], env: dict[str, str], stdin: str | None = None
) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, check=True)

    return run


class Bench:
    def __init__(self, sandbox: Sandbox, root: Path, runs: int) -> None:
        self.sandbox = sandbox
        self.root = root
        self.runs = runs
        self.env = {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(root),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_STATE_HOME": str(root / "state"),
            **sandbox.env("bp-demo"),
        }
        self.rows: list[tuple[str, str]] = []
        os.environ.update(self.env)  # the in-process callers use the same home and sandbox

    def report(self, name: str, value: str) -> None:
        self.rows.append((name, value))
        print(f"{name:58} {value}", flush=True)

    def login(self) -> None:
        command(
            [str(BIN / "bp-helper"), "login", "--username", "alice", "--password-stdin"],
            self.env,
            ALICE.password,
        )()

    def expire(self) -> None:
        """Make the stored access token stale (as if its lifetime had passed)."""
        settings = Settings(environ=self.env)
        service = TokenService(settings)
        token = service.store.load()
        assert token is not None
        service.store.save(token.without_access_token())

    def startup(self) -> None:
        self.login()
        git_input = f"protocol=https\nhost={self.sandbox.netloc}\n\n"
        store = self.root / "git-credentials"
        store.write_text(f"https://alice:secret@{self.sandbox.netloc}\n")
        before = len(self.sandbox.requests)
        times = interleaved_medians(
            {
                "python": command([sys.executable, "-c", "pass"], self.env),
                "token": command([str(BIN / "bp-helper"), "token"], self.env),
                "git": command(
                    [str(BIN / "git-credential-bioprodict"), "get"], self.env, git_input
                ),
                "docker": command(
                    [str(BIN / "docker-credential-bioprodict"), "get"],
                    self.env,
                    self.sandbox.netloc,
                ),
                "c": command(
                    ["git", "credential-store", f"--file={store}", "get"], self.env, git_input
                ),
            },
            self.runs,
        )
        base = times["python"]
        self.report("python -c pass (same venv)", f"{base * 1000:7.1f} ms")
        for key, name in (
            ("token", "bp-helper token, cached"),
            ("git", "git-credential-bioprodict get, cached"),
            ("docker", "docker-credential-bioprodict get, cached"),
        ):
            self.report(
                name,
                f"{times[key] * 1000:7.1f} ms  {times[key] / base:4.2f}x python (target <= 3x)",
            )
        self.report(
            "git credential-store get (C baseline)",
            f"{times['c'] * 1000:7.1f} ms  the git helper is {times['git'] / times['c']:4.1f}x it",
        )
        self.report(
            "token requests during the cached runs", str(len(self.sandbox.requests) - before)
        )

    def desktop(self) -> None:
        """Cached ``get`` with the settings in a config file of 3 and of 101 profiles."""
        env = {k: v for k, v in self.env.items() if not k.startswith("BIOPRODICT_")}
        git_input = f"protocol=https\nhost={self.sandbox.netloc}\n\n"
        actions: dict[str, Callable[[], object]] = {
            "python": command([sys.executable, "-c", "pass"], self.env)
        }
        for count in (3, 101):
            config = self.root / f"config-{count}.toml"
            config.write_text(desktop_config(self.sandbox, count))
            env_n = {**env, "BIOPRODICT_CONFIG": str(config)}
            argv = [str(BIN / "git-credential-bioprodict"), "get"]
            answer = subprocess.run(
                argv, input=git_input, env=env_n, capture_output=True, text=True, check=True
            )
            if "password=" not in answer.stdout:  # the token startup() stored serves it
                raise SystemExit(f"bench: no answer with a config file: {answer.stderr}")
            actions[str(count)] = command(argv, env_n, git_input)
        before = len(self.sandbox.requests)
        times = interleaved_medians(actions, self.runs)
        base, three = times["python"], times["3"]
        self.report("python -c pass (same venv), beside the desktop case", f"{base * 1000:7.1f} ms")
        self.report(
            "git get, cached, config file of 3 profiles",
            f"{three * 1000:7.1f} ms  {three / base:4.2f}x python (target <= 2.5x)",
        )
        self.report(
            "git get, cached, config file of 101 profiles",
            f"{times['101'] * 1000:7.1f} ms  {times['101'] / three:4.2f}x 3 profiles "
            "(target <= 1.25x)",
        )
        self.report(
            "token requests during the desktop runs", str(len(self.sandbox.requests) - before)
        )

    def httpie(self) -> None:
        if not (BIN / "http").exists():
            self.report("http start-up", "skipped: HTTPie is not installed in this venv")
            return
        bare = self.without_bp_helper()
        # -P: not the current folder first on sys.path (a source tree would be importable)
        http = ["-P", "-m", "httpie"]
        argv = [*http, "--offline", "--ignore-stdin", "GET", "https://api.bio-prodict.nl/x"]
        times = interleaved_medians(
            {
                "without": command([str(bare / "bin" / "python"), *argv], self.env),
                "with": command([sys.executable, *argv], self.env),
            },
            self.runs,
        )
        without, with_plugin = times["without"], times["with"]
        self.report("http --offline, HTTPie alone", f"{without * 1000:7.1f} ms")
        self.report(
            "http --offline, bp-helper plugin installed",
            f"{with_plugin * 1000:7.1f} ms  {(with_plugin / without - 1) * 100:+5.1f}% "
            "(target within 5%)",
        )

    def without_bp_helper(self) -> Path:
        """A venv holding this venv's packages (HTTPie's version included) but bp-helper's:
        links to them, so nothing is installed from a package index."""
        bare = self.root / "httpie-only"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
        ours = Path(sysconfig.get_paths()["purelib"])
        theirs = bare / ours.relative_to(sys.prefix)
        for entry in ours.iterdir():
            if not entry.name.replace("__editable__", "").lstrip("._").startswith("bp_helper"):
                (theirs / entry.name).symlink_to(entry)
        return bare

    def burst(self, callers: int = 32) -> None:
        """Callers on an expired token: threads (in a child process, apart from the server's
        threads) and processes, against one caller timed the same way."""
        self.login()

        def threads(count: int) -> float:
            self.expire()
            self.sandbox.reset_counters()
            child = [sys.executable, __file__, "--burst-child", str(count)]
            done = subprocess.run(child, env=self.env, capture_output=True, text=True, check=True)
            return float(done.stdout)

        one = statistics.median(threads(1) for _ in range(max(3, self.runs // 3)))
        self.report("one caller on an expired token (a refresh)", f"{one * 1000:7.1f} ms")
        walls = []
        for _ in range(max(3, self.runs // 3)):
            walls.append(threads(callers))
            requests = len(self.sandbox.requests)
        wall = statistics.median(walls)
        self.report(
            f"{callers} threads on an expired token",
            f"{wall * 1000:7.1f} ms  {wall / one:4.2f}x one refresh (target < 2x), "
            f"{requests} token request(s)",
        )
        argv = [str(BIOPRODICT_TOKEN_EXE), "token"]
        cached = self._processes(argv, callers)
        self.expire()
        self.sandbox.reset_counters()
        expired = self._processes(argv, callers)
        self.report(f"{callers} bp-helper token processes, cached", f"{cached * 1000:7.1f} ms")
        self.report(
            f"{callers} bp-helper token processes, expired",
            f"{expired * 1000:7.1f} ms  {expired / cached:4.2f}x the cached burst, "
            f"{len(self.sandbox.requests)} token request(s)",
        )

    def _processes(self, argv: list[str], count: int) -> float:
        started = time.perf_counter()
        procs = [
            subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL) for _ in range(count)
        ]
        codes = [p.wait() for p in procs]
        wall = time.perf_counter() - started
        if any(codes):
            raise SystemExit(f"bench: a caller failed: exit codes {codes}")
        return wall


def desktop_config(sandbox: Sandbox, count: int) -> str:
    """A config file of ``count`` profiles: ``default`` serves the sandbox, the rest other hosts."""
    secret = sandbox.clients["bp-demo"].secret
    lines = [
        "[profiles.default]",
        f'token_url = "{sandbox.token_url}"',
        'client_id = "bp-demo"',
        f'client_secret = "{secret}"',
        f'ca_bundle = "{sandbox.ca_path}"',
    ]
    for number in range(1, count):
        lines += [
            "",
            f"[profiles.team{number:03}]",
            f'token_url = "https://login{number}.example.org/oauth/token"',
            f'hosts = ["api{number}.example.org", "data{number}.example.org:8443"]',
            f'client_id = "client-{number}"',
            'username = "someone"',
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (CI smoke run)")
    parser.add_argument("--runs", type=int, default=None, help="repetitions per median")
    parser.add_argument("--burst-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.burst_child:
        burst_child(args.burst_child)
        return 0
    runs = args.runs or (3 if args.quick else 30)
    if shutil.which("git") is None:
        raise SystemExit("bench: git is needed for the C baseline")
    with Sandbox() as sandbox, tempfile.TemporaryDirectory(prefix="bp-bench-") as tmp:
        bench = Bench(sandbox, Path(tmp), runs)
        print(f"bp-helper benchmark: {runs} runs per median, {os.cpu_count()} CPUs")
        bench.startup()
        bench.desktop()
        bench.httpie()
        bench.burst()
    return 0


if __name__ == "__main__":
    sys.exit(main())
