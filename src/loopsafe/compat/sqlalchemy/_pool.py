"""``LoopsafePool``: the pool for DB-API connections that are cheap handles.

SQLAlchemy's pools exist because a driver connection is costly (with aiosqlite, a thread
and a ``sqlite3`` connection each), so ``AsyncAdaptedQueuePool`` keeps 5 + 10 of them and
makes the 16th concurrent session wait. A loopsafe connection is a handle on the one
shared Database of its file, whose own bounded queues refuse excess work at once; a cap
here would only add a second, slower queue in front of them. So this pool never makes a
checkout wait: it reuses an idle handle, or opens another, and keeps every handle
returned to it for the next checkout (as many as were ever out at once).

It is for files only: an adapter connection to ``:memory:`` is a private database, so
each handle would see its own, empty one. The dialect gives ``:memory:`` ``StaticPool``
(one connection for every session, as for aiosqlite).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.pool import ConnectionPoolEntry, Pool


class LoopsafePool(Pool):
    """A pool without a size limit or checkout waits, for ``sqlite+loopsafe`` engines.

    Accepts the arguments every SQLAlchemy pool does (``recycle``, ``pre_ping``,
    ``reset_on_return``, ``echo``, ...). ``pool_size``, ``max_overflow`` and
    ``pool_timeout`` don't apply (nothing waits for a handle) and are refused by
    ``create_engine`` as for any pool that doesn't take them.
    """

    def __init__(self, creator: Any, **kw: Any) -> None:
        super().__init__(creator, **kw)
        self._idle: list[ConnectionPoolEntry] = []
        self._out = 0

    def _do_get(self) -> ConnectionPoolEntry:
        # Newest first: a handle just returned is the likeliest to be warm.
        record = self._idle.pop() if self._idle else self._create_connection()
        self._out += 1
        return record

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        self._out -= 1
        self._idle.append(record)

    def dispose(self) -> None:
        """Close the idle handles (handles still checked out close when returned to a
        disposed engine's old pool, as with every SQLAlchemy pool)."""
        idle, self._idle = self._idle, []
        for record in idle:
            record.close()
        self.logger.info("Pool disposed. %s", self.status())

    def recreate(self) -> LoopsafePool:
        self.logger.info("Pool recreating")
        return self.__class__(
            self._creator,
            recycle=self._recycle,
            echo=self.echo,
            logging_name=self._orig_logging_name,
            reset_on_return=self._reset_on_return,
            pre_ping=self._pre_ping,
            _dispatch=self.dispatch,
            dialect=self._dialect,
        )

    def status(self) -> str:
        return f"LoopsafePool idle: {len(self._idle)} checked out: {self._out}"

    def checkedin(self) -> int:
        """Handles idle in the pool."""
        return len(self._idle)

    def checkedout(self) -> int:
        """Handles checked out now."""
        return self._out
