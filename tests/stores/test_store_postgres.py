"""What every store shares, on PostgreSQL: URLs, pools, schema versions under concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from loopsafe.errors import CannotOpenError, ClosedError, SchemaVersionError, StoreError
from loopsafe.stores import Store, parse_target
from loopsafe.stores._pgschema import schema_version

from .conftest import Backend


class Notes(Store):
    schema = "notes"
    migrations: tuple[str, ...] = ("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);",)
    # Not idempotent on purpose: two openers that both ran it would fail on the second.
    postgres_migrations: tuple[str, ...] = (
        "CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL);",
        "ALTER TABLE notes ADD COLUMN tag text; CREATE INDEX notes_tag ON notes (tag);",
    )


class SQLiteOnly(Store):
    schema = "sqlite_only"
    migrations: tuple[str, ...] = ("CREATE TABLE t (x);",)


@pytest.mark.parametrize(
    ("text", "dsn", "schema", "pool_size"),
    [
        ("postgresql://u@db:5433/app", "postgresql://u@db:5433/app", "public", 10),
        ("postgres://u@db/app?schema=jobs", "postgresql://u@db/app", "jobs", 10),
        (
            "postgresql://u@db/app?sslmode=require&schema=s_1&pool_size=3",
            "postgresql://u@db/app?sslmode=require",
            "s_1",
            3,
        ),
    ],
)
def test_postgres_urls_resolve_to_a_dsn_and_loopsafe_options(
    text: str, dsn: str, schema: str, pool_size: int
) -> None:
    target = parse_target(text)
    assert target.scheme == "postgresql"
    assert target.postgres is not None
    assert (target.postgres.dsn, target.postgres.schema, target.postgres.pool_size) == (
        dsn,
        schema,
        pool_size,
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("postgresql://db/app?schema=Bad-Name", "schema name"),
        ("postgresql://db/app?schema=", "schema name"),
        ("postgresql://db/app?pool_size=0", "pool_size"),
        ("postgresql://db/app?pool_size=many", "pool_size"),
    ],
)
def test_bad_postgres_options_are_refused_at_construction(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Notes(text)


def test_a_password_never_appears_in_a_description_or_an_error() -> None:
    store = Notes("postgresql://u:s3cret@db/app")
    assert "s3cret" not in repr(store)
    assert "u@db" in repr(store)
    with pytest.raises(ValueError, match=r"\*\*\*") as refused:
        Notes("postgresql://u:s3cret@db/app?schema=NO")
    assert "s3cret" not in str(refused.value)


def test_a_store_without_a_postgres_backend_says_so_at_construction() -> None:
    with pytest.raises(StoreError, match="no PostgreSQL backend"):
        SQLiteOnly("postgresql://db/app")


def test_open_options_are_for_sqlite_files() -> None:
    with pytest.raises(ValueError, match="in the URL"):
        Notes("postgresql://db/app", open_options={"readers": 2})


async def test_an_unreachable_server_is_a_cannot_open_error() -> None:
    store = Notes("postgresql://u:s3cret@127.0.0.1:1/app")
    with pytest.raises(CannotOpenError, match=r"127\.0\.0\.1:1") as refused:
        await store.open()
    assert "s3cret" not in str(refused.value)
    assert not store.is_open


async def test_a_store_opens_a_pool_in_its_schema_and_closes_it(postgres: Backend) -> None:
    store = Notes(postgres.target())
    assert store.backend == "postgresql"
    async with store as s:
        await s.pool.execute("INSERT INTO notes (body, tag) VALUES ('x', 't')")
        async with s.pool.acquire() as conn:
            assert await schema_version(conn, "notes") == 2
            assert await conn.fetchval("SELECT current_schema()") == postgres.schemas["store"]
        with pytest.raises(StoreError, match="PostgreSQL"):
            _ = s.database
        pool = s.pool
    assert pool.is_closing()
    with pytest.raises(ClosedError):
        _ = store.pool
    with pytest.raises(ClosedError):
        await store.open()


async def test_migrations_run_once_and_data_is_kept(postgres: Backend) -> None:
    async with Notes(postgres.target()) as store:
        await store.open()
        await store.pool.execute("INSERT INTO notes (body) VALUES ('kept')")
    async with Notes(postgres.target()) as again:
        assert await again.pool.fetchval("SELECT body FROM notes") == "kept"


async def test_concurrent_openers_take_turns_on_the_migration(postgres: Backend) -> None:
    # Separate pools: separate server sessions, as from separate hosts.
    stores = [Notes(postgres.target() + "&pool_size=1") for _ in range(8)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        assert await stores[0].pool.fetchval("SELECT count(*) FROM notes") == 0
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_a_newer_schema_is_refused_and_nothing_is_written(postgres: Backend) -> None:
    async with Notes(postgres.target()):
        pass
    conn = await postgres.connect()
    try:
        await conn.execute("UPDATE loopsafe_schema SET version = 9 WHERE store = 'notes'")
        store = Notes(postgres.target())
        with pytest.raises(SchemaVersionError, match="version 9"):
            await store.open()
        assert not store.is_open
        assert await conn.fetchval("SELECT version FROM loopsafe_schema") == 9
    finally:
        await conn.close()


async def test_sqlite_stores_have_no_pool(tmp_path: Path) -> None:
    async with Notes(f"{tmp_path}/n.db") as store:
        assert store.backend == "sqlite"
        with pytest.raises(StoreError, match="SQLite"):
            _ = store.pool
        with pytest.raises(StoreError, match="SQLite"):
            _ = store.postgres
