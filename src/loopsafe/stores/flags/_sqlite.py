"""Flags on SQLite: tables and statements (parameters only)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable

from loopsafe.engine import Database
from loopsafe.stores._rows import as_tuple, check_rows
from loopsafe.stores.flags._flag import AuditEntry, Flag

__all__ = ["MIGRATIONS", "SQLiteFlagsBackend"]

MIGRATIONS = (
    """
CREATE TABLE loopsafe_flags (
    name  TEXT PRIMARY KEY,
    gates TEXT NOT NULL
) STRICT;
CREATE TABLE loopsafe_flags_audit (
    id     INTEGER PRIMARY KEY,
    flag   TEXT NOT NULL,
    at     REAL NOT NULL,
    by     TEXT,
    before TEXT,
    after  TEXT
) STRICT;
CREATE INDEX loopsafe_flags_audit_flag ON loopsafe_flags_audit (flag, id);
CREATE TABLE loopsafe_flags_version (
    id      INTEGER PRIMARY KEY CHECK (id = 0),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO loopsafe_flags_version (id, version) VALUES (0, 0);
""",
)

_VERSION = "SELECT version FROM loopsafe_flags_version WHERE id = 0"
_ALL = "SELECT name, gates FROM loopsafe_flags"
_GET = "SELECT gates FROM loopsafe_flags WHERE name = ?"
_PUT = (
    "INSERT INTO loopsafe_flags (name, gates) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET gates = excluded.gates"
)
_DELETE = "DELETE FROM loopsafe_flags WHERE name = ?"
_BUMP = "UPDATE loopsafe_flags_version SET version = version + 1 WHERE id = 0"
_AUDIT = "INSERT INTO loopsafe_flags_audit (flag, at, by, before, after) VALUES (?, ?, ?, ?, ?)"
_HISTORY = (
    "SELECT at, by, before, after FROM loopsafe_flags_audit WHERE flag = ? ORDER BY id DESC LIMIT ?"
)


# Every call passes wait=True: a store's statements are short and bounded by the
# Database's count bound; refusing them by queue_budget turned a burst of 64 concurrent
# sets into OverloadedError (and the store's own maintenance into failures). Services
# shed at their door (loopsafe.fastapi.LoadShedding) instead.
class SQLiteFlagsBackend:
    """:class:`~loopsafe.stores.flags.FlagsBackend` on a loopsafe Database."""

    def __init__(self, db: Database) -> None:
        check_rows(db)
        self._db = db

    async def version(self) -> int:
        return int(as_tuple(await self._db.fetchone(_VERSION, wait=True))[0])

    async def wait(self, version: int, timeout: float) -> None:
        # No change notifications between SQLite processes: the caller polls version().
        await asyncio.sleep(timeout)

    async def load(self) -> tuple[int, dict[str, Flag]]:
        def run(conn: sqlite3.Connection) -> tuple[int, dict[str, Flag]]:
            # The version first: rows newer than it only cost one more reload later, while
            # a version newer than the rows would hide a change until the next one.
            version = int(as_tuple(conn.execute(_VERSION).fetchone())[0])
            flags = {}
            for raw in conn.execute(_ALL).fetchall():
                name, gates = as_tuple(raw)
                flags[name] = Flag.from_json(name, gates)
            return version, flags

        return await self._db.read(run, wait=True)

    async def get(self, name: str) -> Flag | None:
        row = await self._db.fetchone(_GET, (name,), wait=True)
        return None if row is None else Flag.from_json(name, as_tuple(row)[0])

    async def change(
        self,
        name: str,
        apply: Callable[[Flag | None], Flag | None],
        by: str | None,
        at: float,
    ) -> tuple[int, Flag | None, Flag | None]:
        def run(conn: sqlite3.Connection) -> tuple[int, Flag | None, Flag | None]:
            row = conn.execute(_GET, (name,)).fetchone()
            before = None if row is None else Flag.from_json(name, as_tuple(row)[0])
            after = apply(before)
            if after != before:
                if after is None:
                    conn.execute(_DELETE, (name,))
                else:
                    conn.execute(_PUT, (name, after.to_json()))
                conn.execute(_AUDIT, AuditEntry(name, at, by, before, after).row())
                conn.execute(_BUMP)
            version = int(as_tuple(conn.execute(_VERSION).fetchone())[0])
            return version, before, after

        return await self._db.write(run, wait=True)

    async def audit(self, name: str, limit: int) -> list[AuditEntry]:
        rows = await self._db.fetchall(_HISTORY, (name, limit), wait=True)
        return [AuditEntry.from_row(name, *as_tuple(raw)) for raw in reversed(rows)]
