"""The programs the benchmark starts: a regular install of the checkout made offline, and what
a program imports (``-X importtime``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

# what a copy of the checkout leaves out before pip builds it
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__")


def linked_venv(path: Path) -> Path:
    """A venv holding links to this venv's packages, bp-helper's left out (nothing is installed
    from a package index). Its ``python -c pass`` costs what this venv's does, less the
    editable install's import finder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = path / ours.relative_to(sys.prefix)
    for entry in ours.iterdir():
        if not entry.name.replace("__editable__", "").lstrip("._").startswith("bp_helper"):
            (theirs / entry.name).symlink_to(entry)
    return path


def regular_install(root: Path, checkout: Path) -> Path:
    """A linked venv with this checkout installed by pip as users get it: built from a copy (no
    ``build/`` left in the checkout), not editable, byte-compiled, with pip's launchers."""
    venv = linked_venv(root / "regular")
    python = str(venv / "bin" / "python")
    source = root / "source"
    shutil.copytree(checkout, source, ignore=NOT_SOURCE)
    pip = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, "--no-build-isolation", str(source)], check=True)
    where = [python, "-c", "import bp_helper; print(bp_helper.__file__)"]
    found = subprocess.run(where, capture_output=True, text=True, check=True, cwd=root).stdout
    if not Path(found.strip()).is_relative_to(venv):
        raise SystemExit(f"bench: the install in {venv} imports bp_helper from {found.strip()}")
    return venv


def imported_modules(
    argv: Sequence[str], env: dict[str, str], stdin: str | None = None
) -> list[tuple[int, str]]:
    """(nesting depth, name) of each module a run of ``argv`` imports, from ``-X importtime``.

    A script whose ``#!`` line names Python runs under that line with ``-X importtime`` added,
    so that options there (``-E``, ``-I``) cannot hide the report."""
    first_line = Path(argv[0]).read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    if first_line.startswith("#!") and "python" in first_line:
        argv = [*first_line[2:].split(), "-X", "importtime", *argv]
    else:
        env = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, check=True)
    modules = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and not line.endswith("imported package"):
            name = line.rsplit("|", 1)[1]
            modules.append((len(name) - len(name.lstrip()), name.strip()))
    return modules


def importer(modules: list[tuple[int, str]], name: str) -> str | None:
    """The top-level import that brought ``name`` in (``name`` itself when the program imported
    it directly), or ``None`` if it was not imported. Each module is reported after the
    modules it imports, one level deeper."""
    found = [i for i, (_, module) in enumerate(modules) if module == name]
    if not found:
        return None
    depth, chain = modules[found[0]][0], name
    for later_depth, module in modules[found[0] + 1 :]:
        if later_depth < depth:
            depth, chain = later_depth, module
    return chain
