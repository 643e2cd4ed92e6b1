"""How cache values become bytes, with a typed tag per row so each comes back as it went in.

A row stores ``(kind, data)``. The kinds are part of the file format and never change:

======  ========  =====================================================
kind    type      data
======  ========  =====================================================
0       bytes     the bytes themselves
1       str       UTF-8
2       JSON      ``json.dumps(value, separators=(",", ":"))`` in UTF-8
3       pickle    ``pickle.dumps(value)`` (only with :class:`PickleSerializer`)
======  ========  =====================================================

JSON turns tuples into lists and requires string keys in dicts; integers, floats, bools,
``None``, lists and dicts round-trip exactly.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Protocol

from loopsafe.errors import SerializationError

__all__ = [
    "BYTES",
    "JSON",
    "PICKLE",
    "STR",
    "JSONSerializer",
    "PickleSerializer",
    "Serializer",
]

BYTES, STR, JSON, PICKLE = 0, 1, 2, 3


class Serializer(Protocol):
    """Turns values into ``(kind, data)`` and back. ``kind`` is a small integer stored with
    the row; a serializer must raise :class:`~loopsafe.SerializationError` for a value it
    can't encode and for a kind it doesn't know."""

    def dumps(self, value: Any) -> tuple[int, bytes]: ...

    def loads(self, kind: int, data: bytes) -> Any: ...


class JSONSerializer:
    """The default: ``bytes`` and ``str`` stored as themselves, anything else as JSON."""

    def dumps(self, value: Any) -> tuple[int, bytes]:
        if isinstance(value, bytes | bytearray | memoryview):
            return BYTES, bytes(value)
        if isinstance(value, str):
            return STR, value.encode()
        try:
            text = json.dumps(value, separators=(",", ":"), allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"a {type(value).__name__} can't be stored as JSON ({exc}); store bytes, str "
                f"or JSON values, or open the cache with another serializer"
            ) from None
        return JSON, text.encode()

    def loads(self, kind: int, data: bytes) -> Any:
        if kind == BYTES:
            return bytes(data)
        if kind == STR:
            return bytes(data).decode()
        if kind == JSON:
            return json.loads(data)
        if kind == PICKLE:
            raise SerializationError(
                "this value was stored with pickle; open the cache with "
                "serializer=PickleSerializer() to read it (only if you trust the file)"
            )
        raise SerializationError(f"unknown value kind {kind} in the cache file")


class PickleSerializer(JSONSerializer):
    """``bytes`` and ``str`` as themselves, everything else pickled.

    Only for a file nobody untrusted can write: unpickling runs code chosen by whoever
    wrote the value.
    """

    def __init__(self, protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        self.protocol = protocol

    def dumps(self, value: Any) -> tuple[int, bytes]:
        if isinstance(value, bytes | bytearray | memoryview | str):
            return super().dumps(value)
        try:
            return PICKLE, pickle.dumps(value, protocol=self.protocol)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise SerializationError(f"a {type(value).__name__} can't be pickled ({exc})") from None

    def loads(self, kind: int, data: bytes) -> Any:
        if kind == PICKLE:
            return pickle.loads(data)
        return super().loads(kind, data)
