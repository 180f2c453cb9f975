"""Where a generated credential file goes: stdout, or a private file written atomically."""

from __future__ import annotations

import sys
from pathlib import Path

from bp_helper.errors import UsageError
from bp_helper.files import atomic_write


def output_path(output: str) -> Path:
    """``--output FILE`` as a path whose folder exists."""
    path = Path(output).expanduser()
    if not path.parent.is_dir():
        raise UsageError(f"--output {output}: folder {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"--output {output} is a folder; give a file name")
    return path


def deliver(text: str, output: str | None) -> None:
    """``text`` on stdout, or replacing ``output`` (mode 0600, atomically)."""
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    atomic_write(output_path(output), text.encode())
