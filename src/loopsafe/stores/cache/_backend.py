"""What the Cache needs from storage: the backend interface, and the rows it moves.

The Cache does the policy (clock, serialization, single-flight, bounds) and talks to
storage only through :class:`CacheBackend`, so a PostgreSQL backend implements these
methods and nothing else. Times are wall-clock seconds (``time.time()``-like, from the
Cache's clock): several processes compare them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = ["CacheBackend", "Entry", "Maintenance", "Row"]


class Row(NamedTuple):
    """A stored value as read back. ``expires_at`` ends its freshness; until
    ``hard_expires_at`` it may still be served stale (``None``: never).

    A named tuple, not a dataclass: one is built per key read, on the hot path."""

    kind: int
    data: bytes
    expires_at: float | None
    hard_expires_at: float | None

    def fresh(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    def servable(self, now: float) -> bool:
        """Fresh, or stale but not yet past its hard expiry."""
        return self.hard_expires_at is None or now < self.hard_expires_at


@dataclass(frozen=True, slots=True)
class Entry:
    """A value to store under ``key``."""

    key: str
    kind: int
    data: bytes
    expires_at: float | None
    hard_expires_at: float | None


@dataclass(frozen=True, slots=True)
class Maintenance:
    """What one maintenance pass did, and the totals it left."""

    entries: int
    bytes: int
    expired: int
    evicted: int


def surplus(entries: int, size: int, max_entries: int | None, max_bytes: int | None) -> int:
    """How many rows to evict next for ``entries`` rows of ``size`` bytes to fit the
    bounds; 0 when they fit. How many rows the bytes need isn't known up front: it is
    guessed from the mean size (rounding up), so a backend evicts, looks again, and asks
    again."""
    over_entries = entries - max_entries if max_entries is not None else 0
    over_bytes = size - max_bytes if max_bytes is not None else 0
    if over_entries <= 0 and over_bytes <= 0:
        return 0
    mean = max(1, size // max(1, entries))
    return max(over_entries, -(-over_bytes // mean), 1)


class CacheBackend(Protocol):
    """Storage for :class:`~loopsafe.Cache`. Every method is one round trip (or one
    transaction); a read never writes. ``namespace`` partitions keys."""

    async def get(self, namespace: str, key: str) -> Row | None:
        """The row under ``key``, expired or not (the caller checks), or ``None``."""
        ...

    async def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Row]:
        """The rows found among ``keys``."""
        ...

    async def set(self, namespace: str, entry: Entry, tags: Sequence[str]) -> None:
        """Store ``entry``, replacing any row under its key (and that row's tags)."""
        ...

    async def set_many(self, namespace: str, entries: Sequence[Entry], tags: Sequence[str]) -> None:
        """Store every entry, all or none."""
        ...

    async def add(self, namespace: str, entry: Entry, now: float) -> bool:
        """Store ``entry`` only if its key has no fresh row at ``now``; whether it did."""
        ...

    async def delete(self, namespace: str, key: str) -> Row | None:
        """Remove the row under ``key``; the row removed, or ``None``."""
        ...

    async def incr(
        self, namespace: str, key: str, delta: int, entry_if_absent: Entry, now: float
    ) -> int:
        """Add ``delta`` to the integer under ``key`` (keeping its expiry) and return it;
        without a fresh row, store ``entry_if_absent`` (an integer) and return its value.
        Raises :class:`~loopsafe.ValueTypeError` if the fresh value is not an integer."""
        ...

    async def expire(self, namespace: str, key: str, expires_at: float | None, now: float) -> bool:
        """Give the fresh row under ``key`` a new expiry (no stale period); whether one was
        there."""
        ...

    async def clear(self, namespace: str) -> int:
        """Remove every row of ``namespace``; how many."""
        ...

    async def delete_tag(self, namespace: str, tag: str) -> int:
        """Remove every row of ``namespace`` tagged ``tag``; how many."""
        ...

    async def try_lock(
        self, namespace: str, key: str, owner: str, until: float, now: float
    ) -> bool:
        """Take the fill lock of ``key`` for ``owner`` until ``until``, if it is free or
        its holder's lock expired by ``now``; whether it was taken."""
        ...

    async def unlock(self, namespace: str, key: str, owner: str) -> None:
        """Release ``key``'s fill lock if ``owner`` still holds it."""
        ...

    async def maintain(
        self, now: float, *, max_entries: int | None, max_bytes: int | None, batch: int
    ) -> Maintenance:
        """Remove up to ``batch`` rows past their hard expiry and expired locks, then evict
        the oldest rows (by store order) until the bounds hold; return the totals."""
        ...

    async def totals(self) -> tuple[int, int]:
        """Entries and bytes of values stored, over all namespaces."""
        ...
