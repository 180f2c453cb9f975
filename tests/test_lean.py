"""``Record`` behaves like ``typing.NamedTuple`` for what bp-helper uses of it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bp_helper.lean import Record


class Point(Record):
    """A point."""

    x: int
    y: int = 0
    tags: tuple[str, ...] = ()

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)

    @classmethod
    def origin(cls) -> Point:
        return cls(0)


def test_fields_defaults_and_methods() -> None:
    p = Point(3, -4)
    assert (p.x, p.y, p.tags) == (3, -4, ())
    assert tuple(p) == (3, -4, ())
    assert isinstance(Point(1), tuple)
    assert p.norm1 == 7 and p.moved(1) == Point(4, -4)
    assert Point.origin() == Point(x=0, y=0)
    assert p._asdict() == {"x": 3, "y": -4, "tags": ()}
    assert Point._fields == ("x", "y", "tags")
    assert Point.__name__ == "Point" and Point.__doc__ == "A point."
    with pytest.raises(AttributeError):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.other = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_cached_path_modules_do_not_import_typing() -> None:
    """With `typing` made unimportable, the cached-path modules still import (and run)."""
    code = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name == "typing":
            raise ImportError("typing is not for the cached path")

sys.modules.pop("typing", None)  # an editable install's finder may have loaded it
sys.meta_path.insert(0, Blocker())
import bp_helper.commands.cli, bp_helper.commands.account, bp_helper.engine.service
import bp_helper.config.hosts, bp_helper.config.profiles
import bp_helper.protocols.git, bp_helper.protocols.docker, bp_helper.protocols.program
from bp_helper.tokens import StoredToken
token = StoredToken("a", 2.0, 1.0, "u", "https://t/x", "c")
print(token._replace(access_token="b").access_token, "typing" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "b False"
