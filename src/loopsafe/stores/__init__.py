"""Stores on the engine: a cache, feature flags and a durable job queue.

Each is built synchronously from a target — a path, a ``sqlite:///`` URL, or an open
:class:`~loopsafe.Database` to share — and opened with ``await store.open()`` or
``async with store as s:``.
"""

from loopsafe.stores._store import Store, StoreTarget
from loopsafe.stores._target import Target, parse_target
from loopsafe.stores.cache import Cache, CacheStats
from loopsafe.stores.flags import Flags, FlagsStats
from loopsafe.stores.queue import Queue, QueueStats

__all__ = [
    "Cache",
    "CacheStats",
    "Flags",
    "FlagsStats",
    "Queue",
    "QueueStats",
    "Store",
    "StoreTarget",
    "Target",
    "parse_target",
]
