"""The stores' backends for tests: each store test that takes ``backend`` runs twice, on
SQLite and on PostgreSQL, so the semantics are provably the same.

On PostgreSQL every target a test asks for is a schema of its own (``lt_<run>_<n>``), as
on SQLite it is a file of its own; the test's schemas are dropped after it, and anything a
killed run left behind under this run's prefix is dropped at the end of the session.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

from tests.servers import POSTGRES, server_url

RUN = f"lt_{uuid.uuid4().hex[:8]}"
_numbers = itertools.count()


class Backend:
    """Where a test's stores live. ``target(name)`` gives the same place for the same
    name (two stores on one file, or one schema) and a fresh place for a new name."""

    def __init__(self, name: str, tmp_path: Path, dsn: str | None) -> None:
        self.name = name
        self._tmp = tmp_path
        self._dsn = dsn
        self.schemas: dict[str, str] = {}

    def target(self, name: str = "store") -> str:
        if self._dsn is None:
            return str(self._tmp / f"{name}.db")
        schema = self.schemas.setdefault(name, f"{RUN}_{next(_numbers)}")
        return with_query(self._dsn, schema=schema)

    async def connect(self, name: str = "store") -> asyncpg.Connection[asyncpg.Record]:
        """A connection of the test's own into ``name``'s schema (PostgreSQL only)."""
        assert self._dsn is not None, "connect() is for the postgresql backend"
        schema = self.schemas.setdefault(name, f"{RUN}_{next(_numbers)}")
        conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            self._dsn, server_settings={"search_path": schema}
        )
        return conn

    async def drop(self) -> None:
        if self._dsn is None or not self.schemas:
            return
        conn = await asyncpg.connect(self._dsn)
        try:
            for schema in self.schemas.values():
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


def with_query(url: str, **options: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(options)) if q)
    return urlunsplit(parts._replace(query=query))


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    dsn = server_url(POSTGRES) if request.param == "postgresql" else None
    chosen = Backend(request.param, tmp_path, dsn)
    try:
        yield chosen
    finally:
        await chosen.drop()


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[Backend]:
    """The postgresql backend alone, for tests of what only PostgreSQL has."""
    chosen = Backend("postgresql", tmp_path, server_url(POSTGRES))
    try:
        yield chosen
    finally:
        await chosen.drop()


@pytest.fixture(scope="session", autouse=True)
def _drop_what_this_run_left() -> Iterator[None]:
    yield
    dsn = os.environ.get(POSTGRES, "").strip()
    if dsn:
        asyncio.run(_drop_prefix(dsn, RUN))


async def _drop_prefix(dsn: str, prefix: str) -> None:
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return  # the tests that needed the server have said so already
    try:
        names = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", prefix + "_"
        )
        for (name,) in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()
