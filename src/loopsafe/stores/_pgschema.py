"""Schema versions on PostgreSQL: the contract of :mod:`loopsafe.stores._schema`, on a server.

Each store's version lives in ``loopsafe_schema`` in the store's schema (several stores
share one schema, as they share one SQLite file). Openers on several hosts at once take
turns on a transaction-scoped advisory lock keyed by the schema name, and each re-reads
the version under it, so a migration runs exactly once; the lock ends with the
transaction, so a crashed opener holds nothing. A version newer than the code knows is
refused with :class:`~loopsafe.SchemaVersionError` before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loopsafe.errors import SchemaVersionError

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Connection = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]

__all__ = ["migrate", "schema_version"]

# The first key of pg_advisory_xact_lock(int, int): loopsafe's migrations ("ls" + 1).
LOCK_CLASS = 0x6C730001

_TABLE = """
CREATE TABLE IF NOT EXISTS loopsafe_schema (
    store   text PRIMARY KEY,
    version integer NOT NULL
)
"""


async def schema_version(conn: Connection, store: str) -> int:
    """The version of ``store``'s tables in the connection's schema (0 when none yet)."""
    exists = await conn.fetchval("SELECT to_regclass('loopsafe_schema') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT version FROM loopsafe_schema WHERE store = $1", store)
    return int(version or 0)


async def migrate(
    pool: asyncpg.Pool[asyncpg.Record], schema: str, store: str, migrations: Sequence[str]
) -> int:
    """Bring ``store``'s tables in ``schema`` to ``len(migrations)``; the version now there.

    ``migrations[i]`` is the SQL script from version ``i`` to ``i + 1``; all pending steps
    and the version bump commit in one transaction, so a crash or a cancel leaves the old
    version whole. Creates ``schema`` if it does not exist. Raises
    :class:`~loopsafe.SchemaVersionError` if the schema is newer than ``migrations``.
    """
    target = len(migrations)
    async with pool.acquire() as conn:
        current = await schema_version(conn, store)
        _check(store, schema, current, target)
        if current == target:
            return current  # the common case: no lock, no write
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, schema)
            # Quoted from a validated name: identifiers can't be parameters.
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(_TABLE)
            version = await schema_version(conn, store)
            _check(store, schema, version, target)
            for i in range(version, target):
                await conn.execute(migrations[i])
            await conn.execute(
                "INSERT INTO loopsafe_schema (store, version) VALUES ($1, $2)"
                " ON CONFLICT (store) DO UPDATE SET version = excluded.version",
                store,
                target,
            )
    return target


def _check(store: str, schema: str, found: int, known: int) -> None:
    if found > known:
        raise SchemaVersionError(
            f"the {store} tables in schema {schema!r} are at version {found}, but this "
            f"loopsafe knows only up to {known}: upgrade loopsafe (or use another schema)"
        )
