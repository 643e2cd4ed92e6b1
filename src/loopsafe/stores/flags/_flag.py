"""A flag's gates, how a check is decided, and the frozen bucketing function.

Gates combine with OR, as in Flipper: a flag is on for a check if it is on for everyone
(the boolean gate, a kill switch when turned off with the others), or the actor is listed,
or one of the actor's groups is listed, or the actor's bucket falls under
``percentage_of_actors``, or a random draw falls under ``percentage_of_time``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["AuditEntry", "Flag", "Gate", "actor_bucket"]


def actor_bucket(flag: str, actor: str) -> int:
    """The actor's bucket for ``flag``, from 0 to 99,999: ``crc32(f"{flag}#{actor}") % 100_000``
    (CRC-32 of the UTF-8 text, as ``zlib.crc32``).

    Frozen: an actor is in a percentage rollout of ``p`` percent iff
    ``actor_bucket(flag, actor) < p * 1000``, in every process and every version, so raising
    the percentage only ever adds actors, and buckets never move. (Flipper's function, with a
    ``#`` between flag and actor.)
    """
    return zlib.crc32(f"{flag}#{actor}".encode()) % 100_000


class Gate(Enum):
    """The gate that turned a check on."""

    BOOLEAN = "boolean"
    ACTOR = "actor"
    GROUP = "group"
    PERCENTAGE_OF_ACTORS = "percentage_of_actors"
    PERCENTAGE_OF_TIME = "percentage_of_time"


@dataclass(frozen=True, slots=True)
class Flag:
    """A flag's gates. A flag nobody has set is off (and :meth:`Flags.get` gives ``None``)."""

    name: str
    enabled: bool = False
    actors: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    percentage_of_actors: float = 0.0
    percentage_of_time: float = 0.0

    @property
    def off(self) -> bool:
        """No gate can turn it on."""
        return not (
            self.enabled
            or self.actors
            or self.groups
            or self.percentage_of_actors
            or self.percentage_of_time
        )

    def gate(
        self, actor: str | None, groups: Iterable[str], draw: Callable[[], float]
    ) -> Gate | None:
        """The first gate that is on for this check, or ``None`` (the flag is off for it)."""
        if self.enabled:
            return Gate.BOOLEAN
        if actor is not None:
            if actor in self.actors:
                return Gate.ACTOR
            if self.percentage_of_actors and (
                actor_bucket(self.name, actor) < self.percentage_of_actors * 1000
            ):
                return Gate.PERCENTAGE_OF_ACTORS
        if self.groups and not self.groups.isdisjoint(groups):
            return Gate.GROUP
        if self.percentage_of_time and draw() * 100 < self.percentage_of_time:
            return Gate.PERCENTAGE_OF_TIME
        return None

    def to_json(self) -> str:
        return json.dumps(
            {
                "enabled": self.enabled,
                "actors": sorted(self.actors),
                "groups": sorted(self.groups),
                "percentage_of_actors": self.percentage_of_actors,
                "percentage_of_time": self.percentage_of_time,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, name: str, text: str) -> Flag:
        data: dict[str, Any] = json.loads(text)
        return cls(
            name=name,
            enabled=bool(data["enabled"]),
            actors=frozenset(data["actors"]),
            groups=frozenset(data["groups"]),
            percentage_of_actors=float(data["percentage_of_actors"]),
            percentage_of_time=float(data["percentage_of_time"]),
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change of a flag: who made it, when (wall-clock seconds), its gates before (``None``
    for a new flag) and after (``None`` for a deleted one)."""

    flag: str
    at: float
    by: str | None
    before: Flag | None
    after: Flag | None

    def row(self) -> tuple[str, float, str | None, str | None, str | None]:
        """The audit table's columns (flag, at, by, before, after; gates as JSON), as both
        backends store them."""
        before = None if self.before is None else self.before.to_json()
        after = None if self.after is None else self.after.to_json()
        return (self.flag, self.at, self.by, before, after)

    @classmethod
    def from_row(
        cls, flag: str, at: float, by: str | None, before: str | None, after: str | None
    ) -> AuditEntry:
        """The entry a stored row (as :meth:`row` wrote it) describes."""
        return cls(
            flag=flag,
            at=at,
            by=by,
            before=None if before is None else Flag.from_json(flag, before),
            after=None if after is None else Flag.from_json(flag, after),
        )
