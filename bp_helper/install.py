"""What adds an extra's packages to the install at hand: the one place hints come from.

bp-helper is installed from a checkout or a wheel, not from a package index, so
``pip install 'bp-helper[httpx]'`` fails. What works depends on where this copy runs: a pipx
environment takes ``pipx inject bp-helper httpx``; a uv tool environment is installed again
``--with`` the package; a virtual environment (or any other Python) takes the package from
its own ``python -m pip``. The packages are the extra's requirements in bp-helper's own
metadata (``pyproject.toml``), so a new extra needs no edit here.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

DISTRIBUTION = "bp-helper"


def extra_packages(extra: str) -> list[str]:
    """The package names an extra of bp-helper adds (``["httpx"]`` for ``httpx``)."""
    # Imported here, when a hint is written: importlib.metadata (with the email package it
    # brings) is a tenth of every full-path command's start-up, and only hints read it.
    from importlib import metadata

    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return [extra]
    marker = re.compile(r"""extra\s*==\s*["']""" + re.escape(extra) + """["']""")
    names = [
        re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
        for requirement in requirements
        if marker.search(requirement)
    ]
    return names or [extra]


def install_command(extra: str) -> str:
    """The command that adds ``extra``'s packages to the environment bp-helper runs in."""
    packages = extra_packages(extra)
    root = Path(sys.prefix)
    if (root / "pipx_metadata.json").exists():  # pipx writes it into each of its venvs
        return f"pipx inject {DISTRIBUTION} {' '.join(packages)}"
    if (root / "uv-receipt.toml").exists():  # uv tool install writes it; uv has no inject
        with_ = " ".join(f"--with {name}" for name in packages)
        return f"uv tool install --reinstall {with_} <the checkout or wheel bp-helper came from>"
    return f"{shlex.quote(sys.executable)} -m pip install {' '.join(packages)}"
