"""The sqlite+loopsafe dialect through SQLAlchemy's asyncio API."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Integer, String, func, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool

import loopsafe.compat.aiosqlite as adapter
from loopsafe.compat.sqlalchemy import LoopsafeDialect, LoopsafePool


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+loopsafe:///{tmp_path / 'app.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(Item))).scalar_one())


async def test_url_names_the_dialect_and_its_pools(tmp_path: Path) -> None:
    file_engine = create_async_engine(f"sqlite+loopsafe:///{tmp_path / 'x.db'}")
    memory_engine = create_async_engine("sqlite+loopsafe://")
    try:
        assert isinstance(file_engine.dialect, LoopsafeDialect)
        assert isinstance(file_engine.pool, LoopsafePool)
        assert isinstance(memory_engine.pool, StaticPool)
        async with file_engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.driver_connection, adapter.Connection)
    finally:
        await file_engine.dispose()
        await memory_engine.dispose()


async def test_memory_database_is_shared_by_every_checkout() -> None:
    engine = create_async_engine("sqlite+loopsafe://")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.execute(insert(Item), [{"name": "a"}])
        assert await count(engine) == 1
    finally:
        await engine.dispose()


async def test_commit_keeps_and_rollback_discards(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        session.add(Item(name="kept"))
        await session.commit()
    async with AsyncSession(engine) as session:
        session.add(Item(name="dropped"))
        await session.flush()
        await session.rollback()
    async with AsyncSession(engine) as session:
        names = (await session.scalars(select(Item.name))).all()
    assert names == ["kept"]


async def test_savepoint_rolls_back_only_its_part(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session, session.begin():
        session.add(Item(name="outer"))
        nested = await session.begin_nested()
        session.add(Item(name="inner"))
        await session.flush()
        await nested.rollback()
    async with AsyncSession(engine) as session:
        assert (await session.scalars(select(Item.name))).all() == ["outer"]


async def test_regexp_works_on_readers_and_in_transactions(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session, session.begin():
        session.add_all([Item(name="apple"), Item(name="banana")])
    query = select(Item.name).where(Item.name.regexp_match("^b"))
    async with engine.connect() as conn:  # a read outside a transaction: a reader
        assert (await conn.execute(query)).scalars().all() == ["banana"]
    async with engine.begin() as conn:  # after a write: the writer
        await conn.execute(insert(Item), [{"name": "blueberry"}])
        assert sorted((await conn.execute(query)).scalars()) == ["banana", "blueberry"]


def _twice(value: int) -> int:
    return value * 2


def _setup(connection: sqlite3.Connection) -> None:
    connection.create_function("twice", 1, _twice, deterministic=True)


async def test_user_setup_hook_runs_beside_sqlalchemys_functions(tmp_path: Path) -> None:
    engine = create_async_engine(
        f"sqlite+loopsafe:///{tmp_path / 'x.db'}",
        connect_args={"options": {"setup": _setup, "readers": 2}},
    )
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT twice(21), 'abc' REGEXP 'b'"))).one()
        assert tuple(row) == (42, 1)
    finally:
        await engine.dispose()


async def test_errors_reach_sqlalchemy_as_dbapi_classes(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        session.add(Item(name="twin"))
        await session.commit()
    with pytest.raises(IntegrityError) as caught:
        async with AsyncSession(engine) as session:
            session.add(Item(name="twin"))
            await session.commit()
    assert isinstance(caught.value.orig, sqlite3.IntegrityError)
    with pytest.raises(OperationalError) as missing:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM nowhere"))
    assert isinstance(missing.value.orig, sqlite3.OperationalError)


async def test_concurrent_sessions_are_not_capped_by_the_pool(engine: AsyncEngine) -> None:
    # QueuePool's default (5 + 10) would make the 16th of these wait for pool_timeout.
    tasks = 40
    barrier = asyncio.Barrier(tasks)

    async def insert(n: int) -> None:
        async with AsyncSession(engine) as session:
            await session.execute(select(1))  # holds a checkout
            await barrier.wait()
            session.add(Item(name=f"item-{n}"))
            await session.commit()

    await asyncio.wait_for(asyncio.gather(*(insert(n) for n in range(tasks))), 60)
    assert await count(engine) == tasks
    assert isinstance(engine.pool, LoopsafePool)
    assert engine.pool.checkedin() == tasks
    assert engine.pool.checkedout() == 0


async def test_read_only_checkout_returns_without_a_rollback_call(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = adapter.Connection.rollback

    async def counting(self: Any) -> None:
        calls.append("rollback")
        await original(self)

    monkeypatch.setattr(adapter.Connection, "rollback", counting)
    for _ in range(3):
        async with engine.connect() as conn:
            await conn.execute(select(Item.id))
    assert calls == []
    async with engine.connect() as conn:  # a write left open is rolled back on return
        await conn.execute(insert(Item), [{"name": "open"}])
    assert calls == ["rollback"]
    assert await count(engine) == 0


async def test_stream_reads_rows_as_asked(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(Item), [{"name": f"n{i}"} for i in range(50)])
    async with engine.connect() as conn:
        result = await conn.stream(select(Item.name).order_by(Item.id))
        names = [name async for name in result.scalars()]
    assert names == [f"n{i}" for i in range(50)]
