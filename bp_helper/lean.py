"""``Record``: ``typing.NamedTuple`` for the cached path, without importing ``typing``.

Importing ``typing`` costs about 3 ms, a tenth of a cached ``get``. Type checkers see
``typing.NamedTuple`` itself; at run time a small metaclass builds the same class on
``collections.namedtuple`` (fields from the annotations, defaults from the class body,
methods and properties kept). Modules on the cached path import names from ``typing``
only under ``if TYPE_CHECKING:``, with ``TYPE_CHECKING`` from here.
"""

from __future__ import annotations

import collections

__all__ = ["TYPE_CHECKING", "Record"]

TYPE_CHECKING = False  # type checkers treat this name as true

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:

    class _RecordType(type):
        def __new__(mcs, name, bases, namespace):
            if namespace.get("_record_root"):
                return super().__new__(mcs, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[f] for f in fields if f in namespace]
            base = collections.namedtuple(name, fields, defaults=defaults)
            body = {
                key: value
                for key, value in namespace.items()
                if key not in fields and key not in ("__annotations__", "__dict__", "__weakref__")
            }
            body["__slots__"] = ()
            return type(name, (base,), body)

    class Record(metaclass=_RecordType):
        _record_root = True
