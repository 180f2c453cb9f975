"""Line-based edits of ``[profiles.NAME]`` tables in the TOML config file, stdlib only.

``tomllib`` reads TOML but nothing in the standard library writes it, and a rewrite from the
parsed data would lose the user's comments, blank lines and order. So an edit changes only
the lines of one key: it replaces ``key = ...`` in the profile's table, appends it at the end
of that table, or appends a new table at the end of the file. Every edit is checked by
parsing the result: unless it holds exactly the old data with the one change, the edit is
refused (a layout this editor does not handle, such as dotted keys or a multi-line value)
and the user is told to edit the file by hand.
"""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any

from bp_helper.errors import ConfigError

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
HEADER = re.compile(r"^\s*\[\s*(?P<dotted>[^\[\]#]*?)\s*\]\s*(#.*)?$")


def parse(text: str, path: object) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def dump_value(value: Any) -> str:
    """``value`` as TOML: a string, a number, a boolean or a list of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, list):
        return "[" + ", ".join(dump_value(v) for v in value) + "]"
    if isinstance(value, str):
        return _dump_string(value)
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _dump_string(value: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for char in value:
        if char in escapes:
            out.append(escapes[char])
        elif ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or char in "\u2028\u2029":
            out.append(f"\\u{ord(char):04x}")  # control characters and line separators
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _lines(text: str) -> list[str]:
    """``text`` split after each ``\\n`` only: TOML's lines (``str.splitlines`` would also
    split at U+2028, U+0085 and others, which may stand in a string value)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _key(name: str) -> str:
    return name if BARE_KEY.fullmatch(name) else _dump_string(name)


def _header_names(line: str) -> list[str] | None:
    """The dotted name of a ``[table]`` header line, split and unquoted; None otherwise."""
    match = HEADER.match(line)
    if not match or line.lstrip().startswith("[["):
        return None
    try:  # let tomllib split and unquote the dotted name
        data = tomllib.loads(f"[{match['dotted']}]")
    except tomllib.TOMLDecodeError:
        return None
    names: list[str] = []
    node: Any = data
    while isinstance(node, dict) and len(node) == 1:
        name, node = next(iter(node.items()))
        names.append(name)
    return names


def _table_span(lines: list[str], profile: str) -> tuple[int, int] | None:
    """Lines [start, end) of ``[profiles.<profile>]`` (header excluded), if it has a header."""
    start = None
    for index, line in enumerate(lines):
        names = _header_names(line) if line.lstrip().startswith("[") else None
        if names is None:
            continue
        if start is not None:
            return start, index
        if names == ["profiles", profile]:
            start = index + 1
    return (start, len(lines)) if start is not None else None


def _comment(line: str) -> str:
    """The comment at the end of a ``key = value`` line (with the spaces before it), if any."""
    for at in [i for i, char in enumerate(line) if char == "#"]:
        try:
            tomllib.loads(line[:at])
        except tomllib.TOMLDecodeError:
            continue
        start = len(line[:at].rstrip())
        return line[start:].rstrip("\r\n")
    return ""


def _key_line(lines: list[str], span: tuple[int, int], key: str) -> int | None:
    pattern = re.compile(r"^\s*(?:" + re.escape(key) + r'|"' + re.escape(key) + r'")\s*=')
    for index in range(*span):
        if pattern.match(lines[index]):
            return index
    return None


def edit(text: str, profile: str, key: str, value: Any | None, path: object) -> str:
    """``text`` with ``key`` of ``[profiles.<profile>]`` set to ``value`` (None: removed)."""
    before = parse(text, path)
    expected = _expected(before, profile, key, value, path)
    lines = _lines(text)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    span = _table_span(lines, profile)
    entry = None if value is None else f"{_key(key)} = {dump_value(value)}\n"
    at = _key_line(lines, span, key) if span else None
    if at is not None:
        lines[at : at + 1] = [] if entry is None else [entry[:-1] + _comment(lines[at]) + "\n"]
        if entry is None and span is not None and profile not in expected.get("profiles", {}):
            _drop_table(lines, (span[0], span[1] - 1))  # its last key went: the table goes
    elif entry is not None and span is not None:
        end = span[1]
        while end > span[0] and lines[end - 1].strip()[:1] in ("", "#"):
            end -= 1  # after the table's last key, before the comments of what follows
        lines.insert(end, entry)
    elif entry is not None:
        separator = "\n" if lines and lines[-1].strip() else ""
        lines.append(f"{separator}[profiles.{_key(profile)}]\n{entry}")
    return _checked("".join(lines), expected, f"{key} of [profiles.{profile}]", path)


def remove_table(text: str, profile: str, path: object) -> str:
    """``text`` without the ``[profiles.<profile>]`` table (unchanged if there is none)."""
    expected = parse(text, path)
    if profile not in expected.get("profiles", {}):
        return text
    del expected["profiles"][profile]
    lines = _lines(text)
    span = _table_span(lines, profile)
    if span is not None:
        _drop_table(lines, span)
    return _checked("".join(lines), expected, f"[profiles.{profile}]", path)


def _drop_table(lines: list[str], span: tuple[int, int]) -> None:
    """Take out the table of ``span``: its header, its lines and the comment just above it.

    Comments and blank lines at its end stay (they are about what follows), and so does one
    blank line where two would meet.
    """
    start, end = span[0] - 1, span[1]
    while end > span[0] and lines[end - 1].strip()[:1] in ("", "#"):
        end -= 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    del lines[start:end]
    if start == len(lines):
        while lines and not lines[-1].strip():
            lines.pop()
    elif start > 0 and not lines[start - 1].strip() and not lines[start].strip():
        del lines[start]


def _checked(result: str, expected: dict[str, Any], what: str, path: object) -> str:
    """``result`` if it parses to ``expected``; else the edit is refused."""
    try:
        changed = _without_empty_profiles(tomllib.loads(result)) == _without_empty_profiles(
            expected
        )
    except tomllib.TOMLDecodeError:
        changed = False
    if not changed:
        raise ConfigError(
            f"cannot edit {what} in {path} safely (dotted keys or a value over several "
            "lines?): edit the file by hand"
        )
    return result


def _without_empty_profiles(data: dict[str, Any]) -> dict[str, Any]:
    """An empty ``profiles`` table is no table (``[profiles]`` without ``[profiles.x]``)."""
    return {k: v for k, v in data.items() if not (k == "profiles" and v == {})}


def _expected(
    before: dict[str, Any], profile: str, key: str, value: Any | None, path: object
) -> dict[str, Any]:
    data = copy.deepcopy(before)
    profiles = data.setdefault("profiles", {})
    if not isinstance(profiles, dict) or not isinstance(profiles.get(profile, {}), dict):
        raise ConfigError(f"config file {path}: [profiles] must hold [profiles.NAME] tables")
    if value is None:
        table = profiles.get(profile, {})
        if key in table:
            del table[key]
            if not table:  # an empty table is removed with its last key
                del profiles[profile]
    else:
        profiles.setdefault(profile, {})[key] = value
    return data
