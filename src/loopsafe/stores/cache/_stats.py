"""The Cache's statistics, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field

_GAUGE = {"metric": "gauge"}  # for loopsafe.stores.metrics; the rest are counters

__all__ = ["CacheStats"]


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters since this Cache object opened, and the file's totals.

    ``entries`` and ``bytes`` (stored value bytes, all namespaces, all processes) are as of
    the last maintenance pass, which runs after writes and every ``sweep_interval``.
    """

    hits: int
    misses: int
    stale_hits: int
    sets: int
    deletes: int
    factory_calls: int
    expired: int
    evictions: int
    entries: int = field(metadata=_GAUGE)
    bytes: int = field(metadata=_GAUGE)
