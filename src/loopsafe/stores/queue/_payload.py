"""Job arguments and results as JSON text, with a size limit checked before anything is
written."""

from __future__ import annotations

import json
from typing import Any

from loopsafe.errors import PayloadError

__all__ = ["decode", "encode"]

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode(value: Any, limit: int, what: str) -> str:
    """``value`` as compact JSON. Raises :class:`~loopsafe.PayloadError` if it is not JSON
    (sets, bytes, NaN, objects) or its UTF-8 text is longer than ``limit`` bytes."""
    if value is None:
        return "null"
    try:
        text = _encoder.encode(value)
    except (TypeError, ValueError) as e:
        raise PayloadError(
            f"{what} must be JSON (dicts, lists, str, numbers, bool, None): {e}"
        ) from None
    # Most payloads are ASCII-sized well under the limit: skip the encode for those.
    if len(text) * 4 > limit and len(text.encode()) > limit:
        raise PayloadError(f"{what} is {len(text.encode())} bytes, over the limit of {limit}")
    return text


def decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)
