"""Standard Webhooks verification: the signature, the timestamp window, over the raw body.

The scheme (standardwebhooks.com): the sender signs ``"{id}.{timestamp}.{body}"`` with
HMAC-SHA256 under the secret's key and sends ``webhook-id``, ``webhook-timestamp`` (integer
seconds) and ``webhook-signature`` — space-separated ``v1,<base64>`` entries, several during
a key rotation. The receiver checks any one entry in constant time, and refuses timestamps
outside its tolerance in either direction, so a captured delivery can't be replayed later.
The body is verified exactly as received: re-serialised JSON would not match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["SignatureError", "Verified", "sign", "verify"]

MAX_ID_LENGTH = 256


class SignatureError(Exception):
    """The delivery is not authentic or not fresh; ``reason`` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verified:
    """A delivery whose signature and timestamp were checked."""

    id: str
    timestamp: int


def verify(
    key: bytes, headers: Mapping[str, str], body: bytes, *, now: float, tolerance: int
) -> Verified:
    """Check ``body`` against the Standard Webhooks headers; return its id and timestamp.

    ``headers`` must look names up case-insensitively (Starlette's do). Raises
    :class:`SignatureError` when a header is missing or malformed, the timestamp is more
    than ``tolerance`` seconds from ``now``, or no ``v1`` signature matches.
    """
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    if len(msg_id) > MAX_ID_LENGTH or not msg_id.isprintable():
        raise SignatureError("malformed webhook-id")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("webhook-timestamp is not an integer number of seconds")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise SignatureError("webhook-timestamp is outside the tolerance")
    expected = _digest(key, msg_id, stamp, body)
    matched = False
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except ValueError:
            continue
        # Check every entry (no early exit) so timing says nothing about which one matched.
        matched |= hmac.compare_digest(given, expected)
    if not matched:
        raise SignatureError("no valid v1 signature")
    return Verified(msg_id, timestamp)


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (one ``v1`` entry) for a delivery."""
    return "v1," + base64.b64encode(_digest(key, msg_id, str(timestamp), body)).decode()


def _digest(key: bytes, msg_id: str, stamp: str, body: bytes) -> bytes:
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode(), hashlib.sha256)
    mac.update(body)
    return mac.digest()
