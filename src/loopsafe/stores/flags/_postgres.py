"""Flags on PostgreSQL: tables, statements, and change notifications (LISTEN/NOTIFY).

A change bumps the version and ``pg_notify``s it in the same transaction, so every other
process's listener hears of it the moment it commits and its snapshot refreshes at once.
Notifications are a wake-up, never the data: the listener only says "look now", and
:meth:`PostgresFlagsBackend.wait` still returns after ``timeout`` without one, so a lost
listener (a server restart, a dropped connection) degrades to polling, never to a stale
snapshot, while a :class:`~loopsafe.stores._listener.Listener` makes it again in the
background (and says "look now" once it is back).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from loopsafe.stores._listener import Listener
from loopsafe.stores._postgres import connect, server_errors
from loopsafe.stores._target import PostgresTarget
from loopsafe.stores.flags._flag import AuditEntry, Flag

if TYPE_CHECKING:
    import asyncpg

__all__ = ["MIGRATIONS", "PostgresFlagsBackend", "channel"]

MIGRATIONS = (
    """
CREATE TABLE loopsafe_flags (
    name  text PRIMARY KEY,
    gates text NOT NULL
);
CREATE TABLE loopsafe_flags_audit (
    id     bigserial PRIMARY KEY,
    flag   text NOT NULL,
    at     double precision NOT NULL,
    by     text,
    before text,
    after  text
);
CREATE INDEX loopsafe_flags_audit_flag ON loopsafe_flags_audit (flag, id);
CREATE TABLE loopsafe_flags_version (
    id      integer PRIMARY KEY CHECK (id = 0),
    version bigint NOT NULL
);
INSERT INTO loopsafe_flags_version (id, version) VALUES (0, 0);
""",
)

_VERSION = "SELECT version FROM loopsafe_flags_version WHERE id = 0"
# Every change takes this row first: changes to one flag (or its creation, which has no
# row to lock yet) take turns, and the version moves once per change.
_LOCK = _VERSION + " FOR UPDATE"
_ALL = "SELECT name, gates FROM loopsafe_flags"
_GET = "SELECT gates FROM loopsafe_flags WHERE name = $1"
_PUT = (
    "INSERT INTO loopsafe_flags (name, gates) VALUES ($1, $2)"
    " ON CONFLICT (name) DO UPDATE SET gates = excluded.gates"
)
_DELETE = "DELETE FROM loopsafe_flags WHERE name = $1"
_BUMP = "UPDATE loopsafe_flags_version SET version = version + 1 WHERE id = 0 RETURNING version"
_NOTIFY = "SELECT pg_notify($1, $2::text)"
_AUDIT = (
    "INSERT INTO loopsafe_flags_audit (flag, at, by, before, after) VALUES ($1, $2, $3, $4, $5)"
)
_HISTORY = (
    "SELECT at, by, before, after FROM loopsafe_flags_audit WHERE flag = $1"
    " ORDER BY id DESC LIMIT $2"
)


def channel(schema: str) -> str:
    """The notification channel of the flags in ``schema`` (at most 63 bytes, as
    PostgreSQL's identifiers)."""
    name = f"loopsafe_flags_{schema}"
    if len(name) <= 63:
        return name
    return "loopsafe_flags_" + hashlib.sha256(schema.encode()).hexdigest()[:32]


class PostgresFlagsBackend:
    """:class:`~loopsafe.stores.flags.FlagsBackend` on an asyncpg pool, with a listener
    connection of its own for change notifications."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], target: PostgresTarget) -> None:
        self._pool = pool
        self._channel = channel(target.schema)
        self._heard = asyncio.Event()
        self._latest = -1  # the highest version a notification announced
        # Made again after a drop: a change may have been missed meanwhile, so look then.
        self._listener = Listener(
            lambda: connect(target), self._channel, self._notified, self._heard.set
        )

    @server_errors
    async def listen(self) -> None:
        """Start listening for changes, connected before it returns (a change committed
        from then on is heard), and kept up after. Raises
        :class:`~loopsafe.CannotOpenError` when the server can't be reached."""
        await self._listener.start(connect_now=True)

    async def stop(self) -> None:
        await self._listener.close()

    def _notified(self, payload: str) -> None:
        try:
            self._latest = max(self._latest, int(payload))
        except ValueError:
            self._latest += 1  # not ours to parse: still a reason to look
        self._heard.set()

    @server_errors
    async def version(self) -> int:
        return int(await self._pool.fetchval(_VERSION))

    async def wait(self, version: int, timeout: float) -> None:
        # Cleared before the check, so a notification that lands after it still wakes us.
        self._heard.clear()
        if self._latest > version:
            return
        try:
            await asyncio.wait_for(self._heard.wait(), timeout)
        except TimeoutError:
            pass  # no notification: the caller polls the version anyway

    @server_errors
    async def load(self) -> tuple[int, dict[str, Flag]]:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            # One snapshot for the version and the rows.
            version = int(await conn.fetchval(_VERSION))
            rows = await conn.fetch(_ALL)
        return version, {name: Flag.from_json(name, gates) for name, gates in rows}

    @server_errors
    async def get(self, name: str) -> Flag | None:
        gates = await self._pool.fetchval(_GET, name)
        return None if gates is None else Flag.from_json(name, gates)

    @server_errors
    async def change(
        self,
        name: str,
        apply: Callable[[Flag | None], Flag | None],
        by: str | None,
        at: float,
    ) -> tuple[int, Flag | None, Flag | None]:
        async with self._pool.acquire() as conn, conn.transaction():
            version = int(await conn.fetchval(_LOCK))
            gates = await conn.fetchval(_GET, name)
            before = None if gates is None else Flag.from_json(name, gates)
            after = apply(before)
            if after != before:
                if after is None:
                    await conn.execute(_DELETE, name)
                else:
                    await conn.execute(_PUT, name, after.to_json())
                await conn.execute(_AUDIT, *AuditEntry(name, at, by, before, after).row())
                version = int(await conn.fetchval(_BUMP))
                # Delivered when (and only if) this transaction commits.
                await conn.execute(_NOTIFY, self._channel, str(version))
            return version, before, after

    @server_errors
    async def audit(self, name: str, limit: int) -> list[AuditEntry]:
        rows = await self._pool.fetch(_HISTORY, name, limit)
        return [AuditEntry.from_row(name, *row) for row in reversed(rows)]
