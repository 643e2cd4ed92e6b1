"""A throwaway PostgreSQL schema per test for the queue's PostgreSQL backend.

The server's address comes from ``LOOPSAFE_TEST_POSTGRES``; without it these tests skip
and say why.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import pytest

from loopsafe.stores.queue._pg_schema import PG_MIGRATIONS, migrate_postgres
from loopsafe.stores.queue._postgres import PostgresBackend

DSN = os.environ.get("LOOPSAFE_TEST_POSTGRES")
needs_postgres = pytest.mark.skipif(
    DSN is None, reason="set LOOPSAFE_TEST_POSTGRES to a PostgreSQL URL to run these"
)


@dataclass
class Schema:
    """A fresh schema on the test server, dropped when the test ends."""

    dsn: str
    name: str

    @property
    def settings(self) -> dict[str, str]:
        return {"search_path": self.name}

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn, server_settings=self.settings)

    @asynccontextmanager
    async def backend(self, listen: bool = True) -> AsyncIterator[PostgresBackend]:
        pool = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=4, server_settings=self.settings
        )
        try:
            async with pool.acquire() as conn:
                await migrate_postgres(conn, "queue", PG_MIGRATIONS)
            backend = PostgresBackend(pool, self.connect if listen else None, self.name)
            await backend.start()
            try:
                yield backend
            finally:
                await backend.close()
        finally:
            await pool.close()


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[Schema]:
    assert DSN is not None
    name = f"loopsafe_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(DSN)
    try:
        await admin.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield Schema(DSN, name)
        finally:
            await admin.execute(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        await admin.close()
