"""Flags: feature flags checked synchronously from an in-process snapshot."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from loopsafe.errors import Error, FlagValueError
from loopsafe.stores._store import Store, StoreTarget
from loopsafe.stores.flags._backend import FlagsBackend
from loopsafe.stores.flags._flag import AuditEntry, Flag, Gate
from loopsafe.stores.flags._postgres import MIGRATIONS as POSTGRES_MIGRATIONS
from loopsafe.stores.flags._postgres import PostgresFlagsBackend
from loopsafe.stores.flags._sqlite import MIGRATIONS, SQLiteFlagsBackend
from loopsafe.stores.flags._stats import FlagsStats

__all__ = ["Flags"]

log = logging.getLogger("loopsafe.flags")

_KEEP: Any = object()  # an argument left out of set(): keep that gate


class Flags(Store):
    """Feature flags in a SQLite file or a PostgreSQL schema, shared by every process that
    opens it.

    Checks (:meth:`is_enabled`) are plain synchronous calls answered from a snapshot held in
    the process: no await, no thread hop, no I/O. The snapshot is reloaded when a poll every
    ``refresh_interval`` seconds (default 1 s) finds that a flag changed, and at once after a
    change made through this object — so on SQLite another process's change is seen within
    about ``refresh_interval``. On PostgreSQL a change also NOTIFYs every other process, whose
    snapshot reloads as soon as it commits; the poll remains as the fallback when the
    listener's connection is lost. There, a server that fails a call raises
    :class:`~loopsafe.ServerError`, and checks keep answering from the last snapshot.

    - ``random``: the source of :attr:`Flag.percentage_of_time` draws, a callable returning
      a float in [0, 1) (``random.random``); tests pass their own.
    - ``clock``: wall-clock seconds for the audit log (``time.time``).
    """

    schema = "flags"
    migrations = MIGRATIONS
    postgres_migrations = POSTGRES_MIGRATIONS

    def __init__(
        self,
        target: StoreTarget,
        *,
        refresh_interval: float = 1.0,
        random: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        open_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(target, open_options=open_options)
        if not refresh_interval > 0:
            raise ValueError("refresh_interval must be positive")
        self.refresh_interval = refresh_interval
        self._draw = random
        self._clock = clock
        self._backend: FlagsBackend | None = None
        self._postgres: PostgresFlagsBackend | None = None  # the same, when it listens
        self._snapshot: dict[str, Flag] = {}
        self._version = -1
        self._refresher: asyncio.Task[None] | None = None
        self._checks = self._changes = self._refreshes = self._reloads = 0

    # -- checking ----------------------------------------------------------------------------

    def is_enabled(self, name: str, actor: str | None = None, groups: Iterable[str] = ()) -> bool:
        """Whether ``name`` is on for this check: for ``actor`` (an id, e.g. a user id) who
        belongs to ``groups``. Unknown flags are off.

        Synchronous, from the snapshot (see the class); before :meth:`open` has loaded it,
        every flag is off. Never raises for an unknown flag or actor.
        """
        self._checks += 1
        flag = self._snapshot.get(name)
        return flag is not None and flag.gate(actor, groups, self._draw) is not None

    def evaluate(
        self, name: str, actor: str | None = None, groups: Iterable[str] = ()
    ) -> tuple[Flag | None, Gate | None]:
        """As :meth:`is_enabled`, with the reason: the flag from the snapshot (``None`` when
        unknown) and the gate that turned it on (``None`` when off)."""
        self._checks += 1
        flag = self._snapshot.get(name)
        if flag is None:
            return None, None
        return flag, flag.gate(actor, groups, self._draw)

    # -- reading and changing ---------------------------------------------------------------

    async def get(self, name: str) -> Flag | None:
        """The flag's gates as stored now (not from the snapshot), or ``None`` if it was
        never set (or was deleted)."""
        _check_name(name)
        return await self._b().get(name)

    def snapshot(self) -> dict[str, Flag]:
        """The flags checks are answered from now (a copy)."""
        return dict(self._snapshot)

    async def set(
        self,
        name: str,
        *,
        enabled: bool = _KEEP,
        actors: Iterable[str] = _KEEP,
        groups: Iterable[str] = _KEEP,
        percentage_of_actors: float = _KEEP,
        percentage_of_time: float = _KEEP,
        by: str | None = None,
    ) -> Flag:
        """Change ``name``'s gates and return the flag as stored; an argument left out keeps
        that gate (a new flag starts with every gate off).

        ``actors`` and ``groups`` replace the lists; percentages go from 0 to 100. ``by``
        names who made the change, for the audit log (:meth:`audit`); a change that changes
        nothing writes no audit row. This process's checks see the change when ``set``
        returns; other processes within their ``refresh_interval``.

        Raises :class:`~loopsafe.FlagValueError` for bad arguments (nothing is changed). A
        cancel after the change was sent may still let it commit.
        """
        _check_name(name)
        changes: dict[str, Any] = {}
        if enabled is not _KEEP:
            if type(enabled) is not bool:
                raise FlagValueError(f"enabled is True or False, not {enabled!r}")
            changes["enabled"] = enabled
        if actors is not _KEEP:
            changes["actors"] = _strings(actors, "actors")
        if groups is not _KEEP:
            changes["groups"] = _strings(groups, "groups")
        if percentage_of_actors is not _KEEP:
            changes["percentage_of_actors"] = _percentage(percentage_of_actors, "actors")
        if percentage_of_time is not _KEEP:
            changes["percentage_of_time"] = _percentage(percentage_of_time, "time")
        if by is not None and type(by) is not str:
            raise FlagValueError(f"by names who made the change: a str, not {by!r}")

        def apply(before: Flag | None) -> Flag:
            current = before or Flag(name)
            fields = {
                "enabled": current.enabled,
                "actors": current.actors,
                "groups": current.groups,
                "percentage_of_actors": current.percentage_of_actors,
                "percentage_of_time": current.percentage_of_time,
                **changes,
            }
            return Flag(name, **fields)

        _, _, after = await self._b().change(name, apply, by, self._clock())
        assert after is not None
        self._changes += 1
        await self.refresh()
        return after

    async def delete(self, name: str, *, by: str | None = None) -> bool:
        """Forget ``name`` (it is off from now on); whether it existed. Audited like
        :meth:`set`."""
        _check_name(name)
        _, before, _ = await self._b().change(name, lambda _: None, by, self._clock())
        self._changes += 1
        await self.refresh()
        return before is not None

    async def audit(self, name: str, *, limit: int = 100) -> list[AuditEntry]:
        """The last ``limit`` changes of ``name``, oldest first."""
        _check_name(name)
        if limit < 1:
            raise ValueError("limit must be at least 1")
        return await self._b().audit(name, limit)

    async def refresh(self) -> bool:
        """Reload the snapshot now if any flag changed since it was loaded; whether it was
        reloaded. Runs by itself every ``refresh_interval``."""
        backend = self._b()
        self._refreshes += 1
        if await backend.version() == self._version:
            return False
        version, flags = await backend.load()
        if version >= self._version:
            self._snapshot, self._version = flags, version
            self._reloads += 1
        return True

    def stats(self) -> FlagsStats:
        """This object's counters (see :class:`FlagsStats`)."""
        return FlagsStats(
            checks=self._checks,
            changes=self._changes,
            refreshes=self._refreshes,
            reloads=self._reloads,
            flags=len(self._snapshot),
            version=max(self._version, 0),
        )

    # -- internals -------------------------------------------------------------------------

    async def _opened(self) -> None:
        if self.backend == "postgresql":
            listening = PostgresFlagsBackend(self.pool, self.postgres)
            # Listen before the first load: a change committed in between is then heard.
            await listening.listen()
            self._backend = self._postgres = listening
        else:
            self._backend = SQLiteFlagsBackend(self.database)
        try:
            await self.refresh()
        except BaseException:
            if self._postgres is not None:
                await self._postgres.stop()
            raise
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _closing(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
        if self._postgres is not None:
            await self._postgres.stop()
        self._backend = self._postgres = None

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self._b().wait(self._version, self.refresh_interval)
                await self.refresh()
            except Error as exc:
                # The last snapshot keeps answering checks; the next poll tries again.
                log.warning("flags refresh failed: %s", exc)

    def _b(self) -> FlagsBackend:
        backend = self._backend
        if backend is None:
            self._raise_not_open()  # not open yet, or closed
            raise AssertionError("unreachable")
        return backend


def _check_name(name: object) -> None:
    if type(name) is not str or not name:
        raise FlagValueError(f"a flag name is a non-empty str, not {name!r}")


def _strings(values: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(values, str):
        raise FlagValueError(f"{what} is a collection of str: write {what}=({values!r},)")
    out = frozenset(values)
    for value in out:
        if type(value) is not str or not value:
            raise FlagValueError(f"{what} are non-empty str, not {value!r}")
    return out


def _percentage(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FlagValueError(f"percentage_of_{what} is a number from 0 to 100, not {value!r}")
    number = float(value)
    if not (math.isfinite(number) and 0 <= number <= 100):
        raise FlagValueError(f"percentage_of_{what} goes from 0 to 100, not {value!r}")
    return number
