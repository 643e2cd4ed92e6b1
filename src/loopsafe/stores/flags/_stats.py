"""The Flags store's statistics, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field

_GAUGE = {"metric": "gauge"}  # for loopsafe.stores.metrics; the rest are counters

__all__ = ["FlagsStats"]


@dataclass(frozen=True, slots=True)
class FlagsStats:
    """Counters since this Flags object opened. ``flags`` and ``version`` describe the
    in-process snapshot checks are answered from; ``reloads`` counts snapshot reloads
    (a poll that found the version unchanged is a ``refresh`` only)."""

    checks: int
    changes: int
    refreshes: int
    reloads: int
    flags: int = field(metadata=_GAUGE)
    version: int = field(metadata=_GAUGE)
