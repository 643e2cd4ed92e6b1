"""The Flags store: Flipper-style gates (boolean, actors, groups, percentage of actors,
percentage of time), synchronous checks from an in-process snapshot, an audit log.

The OpenFeature provider is in :mod:`loopsafe.stores.flags.openfeature` (the
``openfeature`` extra)."""

from loopsafe.stores.flags._backend import FlagsBackend
from loopsafe.stores.flags._flag import AuditEntry, Flag, Gate, actor_bucket
from loopsafe.stores.flags._flags import Flags
from loopsafe.stores.flags._sqlite import SQLiteFlagsBackend
from loopsafe.stores.flags._stats import FlagsStats

__all__ = [
    "AuditEntry",
    "Flag",
    "Flags",
    "FlagsBackend",
    "FlagsStats",
    "Gate",
    "SQLiteFlagsBackend",
    "actor_bucket",
]
