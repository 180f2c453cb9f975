"""The wheel: built from a copy of the checkout, installed into a fresh venv, and run.

No registry is asked: the wheel is built without build isolation (setuptools >= 77 comes with
the test extra), installed with ``--no-index --no-deps``, and the fresh venv borrows the
dependencies of the test venv through a ``.pth`` line (a ``.pth`` in a folder named by a
``.pth`` is not run, so the editable install of the test venv stays out of it).
"""

from __future__ import annotations

import email
import os
import shutil
import site
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bp_helper.testing import DEMO_USERS, Sandbox
from bp_helper.version import __version__

from .support import imported_modules

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# The helper executables, and the module of their full path (which a cached get never imports).
HELPERS = {
    "git-credential-bioprodict": "bp_helper.protocols.git",
    "docker-credential-bioprodict": "bp_helper.protocols.docker",
    "bp-helper": "bp_helper.commands.cli",
}
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*")


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a program outside the checkout (``python -c`` would import from the current folder)."""
    kwargs.setdefault("cwd", Path(str(args[0])).parent)
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, check=False, **kwargs
    )  # type: ignore[call-overload]
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "bp-helper"
    shutil.copytree(ROOT, source, ignore=SKIP)
    out = tmp_path_factory.mktemp("dist")
    run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", out, source,
    )  # fmt: skip
    (built,) = out.glob("bp_helper-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", root)
    python = root / "bin" / "python"
    run(python, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", wheel)
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    borrowed = "\n".join(site.getsitepackages())  # the test venv's dependencies
    (Path(purelib.stdout.strip()) / "test-venv-deps.pth").write_text(borrowed + "\n")
    yield root


def test_wheel_holds_license_metadata_and_the_typed_marker(wheel: Path) -> None:
    assert wheel.name == f"bp_helper-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = f"bp_helper-{__version__}.dist-info"
        assert f"{info}/licenses/LICENSE" in names
        assert "bp_helper/py.typed" in names
        assert "bp_helper_integrations/httpie_plugin.py" in names
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        data = f"bp_helper-{__version__}.data/scripts"
        scripts = {name: archive.read(f"{data}/{name}") for name in HELPERS}
    assert metadata["License-Expression"] == "MIT"
    assert "Typing :: Typed" in metadata.get_all("Classifier", [])
    assert metadata.get_all("Project-URL")
    assert metadata["Requires-Python"] == ">=3.11"
    assert "bioprodict = bp_helper_integrations.httpie_plugin:BioProdictAuthPlugin" in entry_points
    for program, script in scripts.items():  # plain scripts, not console-script wrappers
        assert f"{program} = " not in entry_points
        assert script.startswith(b"#!python\n")  # the installer names the interpreter


def test_the_installed_wheel_runs(venv: Path, sandbox: Sandbox, tmp_path: Path) -> None:
    bin_dir = venv / "bin"
    where = run(bin_dir / "python", "-c", "import bp_helper; print(bp_helper.__file__)")
    assert where.stdout.startswith(str(venv))  # the wheel's copy, not the checkout
    assert run(bin_dir / "bp-helper", "--version").stdout == f"bp-helper {__version__}\n"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        **sandbox.env("bp-demo"),
    }
    alice = DEMO_USERS["alice"]
    login = ("login", "--username", "alice", "--password-stdin")
    run(bin_dir / "bp-helper", *login, input=alice.password, env=env)
    token = run(bin_dir / "bp-helper", "token", env=env).stdout.strip()
    answer = run(
        bin_dir / "git-credential-bioprodict", "get",
        input=f"protocol=https\nhost={sandbox.netloc}\n\n", env=env,
    )  # fmt: skip
    assert f"password={token}\n" in answer.stdout
    requests = {
        "git-credential-bioprodict": ("get", f"protocol=https\nhost={sandbox.netloc}\n\n"),
        "docker-credential-bioprodict": ("get", sandbox.netloc),
        "bp-helper": ("token", ""),
    }
    for program, (action, request) in requests.items():  # pip's launcher, then bp_helper.quick
        script = bin_dir / program
        assert script.read_text().splitlines()[0] == f"#!{bin_dir / 'python'}"
        importtime = (bin_dir / "python", "-X", "importtime", script, action)
        done = run(*importtime, input=request, env=env)
        assert token in done.stdout
        modules = imported_modules(done.stderr)
        assert "bp_helper.quick" in modules
        assert modules.isdisjoint({"re", "pathlib", "typing", "json", HELPERS[program]})


def test_setup_git_writes_a_helper_path_that_answers(
    venv: Path, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Off PATH, `bp-helper setup git` writes the absolute path of the installed script."""
    bin_dir = venv / "bin"
    env = {
        "PATH": os.environ.get("PATH", ""),  # not the venv's bin
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "GIT_CONFIG_NOSYSTEM": "1",
        **sandbox.env("bp-demo"),
    }
    login = ("login", "--username", "alice", "--password-stdin")
    run(bin_dir / "bp-helper", *login, input=DEMO_USERS["alice"].password, env=env)
    run(bin_dir / "bp-helper", "setup", "git", env=env)
    listed = run(shutil.which("git") or "git", "config", "--global", "--list", env=env).stdout
    helpers = [line.split("=", 1)[1] for line in listed.splitlines() if ".helper=" in line]
    assert str(bin_dir / "git-credential-bioprodict") in helpers
    answer = run(
        bin_dir / "git-credential-bioprodict", "get",
        input=f"protocol=https\nhost={sandbox.netloc}\n\n", env=env,
    )  # fmt: skip
    assert "password=" in answer.stdout
