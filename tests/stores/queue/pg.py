"""A throwaway PostgreSQL schema per test for the queue's PostgreSQL backend itself.

The server's address comes from ``LOOPSAFE_TEST_POSTGRES`` (see ``tests/servers.py``: a
visible skip where it is unset, a failure under ``LOOPSAFE_TEST_REQUIRE_SERVERS=1``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from loopsafe.stores import _pgschema
from loopsafe.stores.queue._pg_schema import PG_MIGRATIONS
from loopsafe.stores.queue._postgres import PostgresBackend
from tests.servers import POSTGRES, server_url


@dataclass
class Schema:
    """A fresh schema on the test server, dropped when the test ends."""

    dsn: str
    name: str

    @property
    def settings(self) -> dict[str, str]:
        return {"search_path": self.name}

    async def connect(self) -> asyncpg.Connection[asyncpg.Record]:
        conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            self.dsn, server_settings=self.settings
        )
        return conn

    @asynccontextmanager
    async def backend(
        self, listen: bool = True, lock_timeout: str = "5s"
    ) -> AsyncIterator[PostgresBackend]:
        pool: asyncpg.Pool[asyncpg.Record] = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=4,
            server_settings={**self.settings, "lock_timeout": lock_timeout},
        )
        try:
            await _pgschema.migrate(pool, self.name, "queue", PG_MIGRATIONS)
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
    dsn = server_url(POSTGRES)
    name = f"loopsafe_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield Schema(dsn, name)
        finally:
            await admin.execute(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        await admin.close()
