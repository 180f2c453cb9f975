"""Coverage-guided fuzzing (atheris) of what bp-helper parses from strangers.

    python tests/fuzz/atheris_targets.py TARGET [libFuzzer flags, e.g. -runs=5000]

TARGET is ``git`` (a git credential request), ``docker`` (a docker server URL and a
``store`` JSON body) or ``config`` (the TOML config file and every setting in it). Each
may only raise bp-helper's own one-line errors; anything else is a crash atheris reports.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable

import atheris

with atheris.instrument_imports():
    import tomllib  # noqa: F401 -- instrumented too: the config target goes through it

    from bp_helper.config.settings import Settings
    from bp_helper.config.table import BY_NAME
    from bp_helper.errors import BpError
    from bp_helper.protocols import docker, git


def fuzz_git(data: bytes) -> None:
    try:
        request = git.parse_request(data)
    except BpError as exc:
        assert "\n" not in exc.message
        return
    assert request.protocol and request.host


def fuzz_docker(data: bytes) -> None:
    for parse in (docker.parse_server, docker.parse_store_request):
        try:
            parse(data)
        except BpError as exc:
            assert "\n" not in exc.message


CONFIG = os.path.join(tempfile.mkdtemp(prefix="bp-fuzz-"), "config.toml")


def fuzz_config(data: bytes) -> None:
    with open(CONFIG, "wb") as fh:
        fh.write(data)
    settings = Settings(environ={"BIOPRODICT_CONFIG": CONFIG, "BIOPRODICT_CLIENT_ID": "c"})
    for name in BY_NAME:
        try:
            settings.resolve(name)
        except BpError as exc:
            assert "\n" not in exc.message


TARGETS: dict[str, Callable[[bytes], None]] = {
    "git": fuzz_git,
    "docker": fuzz_docker,
    "config": fuzz_config,
}

if __name__ == "__main__":
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()
