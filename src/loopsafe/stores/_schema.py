"""Schema versions: each store's migrations, applied once, in order, on open.

Every store keeps its version in one shared table, so several stores can live in one
file (a Database passed to all of them). A file whose version is newer than the code
knows is refused with :class:`~loopsafe.SchemaVersionError`: old code must not write
data in a layout it does not understand.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from loopsafe.engine import Database
from loopsafe.errors import SchemaVersionError

__all__ = ["migrate", "schema_version"]

_TABLE = """
CREATE TABLE IF NOT EXISTS loopsafe_schema (
    store   TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) STRICT
"""


async def schema_version(db: Database, store: str) -> int:
    """The version of ``store``'s tables in ``db`` (0 when it has none yet)."""
    exists = await db.fetchval(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'loopsafe_schema'"
    )
    if not exists:
        return 0
    version = await db.fetchval("SELECT version FROM loopsafe_schema WHERE store = ?", (store,))
    return int(version or 0)


async def migrate(db: Database, store: str, migrations: Sequence[str]) -> int:
    """Bring ``store``'s tables to ``len(migrations)``; return the version now in place.

    ``migrations[i]`` is the SQL script that takes version ``i`` to ``i + 1``. Each step
    runs in one transaction with its version bump, so a crash leaves a whole version.
    Several processes opening the same file at once are safe: the writer lock makes them
    take turns, and each re-reads the version inside its transaction.

    Raises :class:`~loopsafe.SchemaVersionError` if the file is newer than ``migrations``.
    """
    target = len(migrations)
    current = await schema_version(db, store)
    _check(store, current, target)
    if current == target:
        return current

    def step(conn: sqlite3.Connection) -> int:
        conn.execute(_TABLE)
        row = conn.execute(
            "SELECT version FROM loopsafe_schema WHERE store = ?", (store,)
        ).fetchone()
        version = int(row[0]) if row else 0
        _check(store, version, target)
        for i in range(version, target):
            # Statement by statement: executescript would COMMIT the writer's transaction.
            for statement in _statements(migrations[i]):
                conn.execute(statement)
        conn.execute(
            "INSERT INTO loopsafe_schema (store, version) VALUES (?, ?)"
            " ON CONFLICT (store) DO UPDATE SET version = excluded.version",
            (store, target),
        )
        return target

    return int(await db.write(step))


def _check(store: str, found: int, known: int) -> None:
    if found > known:
        raise SchemaVersionError(
            f"the {store} tables are at schema version {found}, but this loopsafe knows only "
            f"up to {known}: upgrade loopsafe (or open another file)"
        )


def _statements(script: str) -> list[str]:
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {buf.strip()[:80]!r}")
    return out
