"""Many tasks' writes share commits; each fails alone; each await means committed."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import loopsafe


async def test_hundreds_of_concurrent_writers_all_commit(db: loopsafe.Database) -> None:
    results = await asyncio.gather(
        *(db.execute("INSERT INTO items (name, n) VALUES (?, ?)", (f"k{i}", i)) for i in range(500))
    )
    assert sorted(r.lastrowid or 0 for r in results) == list(range(1, 501))
    assert await db.fetchval("SELECT count(*) FROM items") == 500


async def test_a_failing_write_fails_only_its_own_caller(db: loopsafe.Database) -> None:
    await db.execute("INSERT INTO items (name) VALUES ('taken')")
    names = [f"ok{i}" for i in range(40)]
    names[17] = "taken"  # violates UNIQUE, in the middle of a batch
    results = await asyncio.gather(
        *(db.execute("INSERT INTO items (name) VALUES (?)", (name,)) for name in names),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], loopsafe.IntegrityError)
    assert isinstance(results[17], loopsafe.IntegrityError)
    rows = await db.fetchall("SELECT name FROM items WHERE name LIKE 'ok%'")
    assert len(rows) == 39


async def test_a_statement_that_rolls_back_the_transaction_does_not_lose_the_others(
    db: loopsafe.Database,
) -> None:
    await db.execute("INSERT INTO items (name) VALUES ('taken')")
    calls = [db.execute("INSERT INTO items (name) VALUES (?)", (f"a{i}",)) for i in range(10)]
    # OR ROLLBACK makes SQLite undo the whole transaction, not just the statement.
    calls.insert(5, db.execute("INSERT OR ROLLBACK INTO items (name) VALUES ('taken')"))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[5], loopsafe.IntegrityError)
    assert sum(isinstance(r, BaseException) for r in results) == 1
    assert await db.fetchval("SELECT count(*) FROM items WHERE name LIKE 'a%'") == 10


async def test_executemany_in_a_batch_is_all_or_nothing(db: loopsafe.Database) -> None:
    others = [db.execute("INSERT INTO items (name) VALUES (?)", (f"o{i}",)) for i in range(10)]
    bad = db.executemany("INSERT INTO items (name) VALUES (?)", [("m1",), ("m2",), ("m1",)])
    results = await asyncio.gather(*others, bad, return_exceptions=True)
    assert isinstance(results[-1], loopsafe.IntegrityError)
    assert await db.fetchval("SELECT count(*) FROM items WHERE name LIKE 'm%'") == 0
    assert await db.fetchval("SELECT count(*) FROM items WHERE name LIKE 'o%'") == 10


async def test_each_write_is_committed_when_its_await_returns(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (x INTEGER)")
        observer = sqlite3.connect(path)  # another connection sees only committed data
        try:

            async def write_and_check(i: int) -> bool:
                await db.execute("INSERT INTO t VALUES (?)", (i,))
                row = observer.execute("SELECT count(*) FROM t WHERE x = ?", (i,)).fetchone()
                return bool(row[0] == 1)

            assert all(await asyncio.gather(*(write_and_check(i) for i in range(200))))
        finally:
            observer.close()


@pytest.mark.parametrize("durability", ["normal", "full"])
async def test_batches_are_bounded_by_max_batch(path: Path, durability: str) -> None:
    async with loopsafe.open(path, max_batch=8, durability=durability) as db:  # type: ignore[arg-type]
        await db.execute("CREATE TABLE t (x)")
        await asyncio.gather(*(db.execute("INSERT INTO t VALUES (?)", (i,)) for i in range(100)))
        assert await db.fetchval("SELECT count(*) FROM t") == 100


async def test_max_batch_wait_lets_a_lone_write_wait_for_company(path: Path) -> None:
    async with loopsafe.open(path, max_batch_wait=0.005) as db:
        await db.execute("CREATE TABLE t (x)")
        await db.execute("INSERT INTO t VALUES (1)")
        assert await db.fetchval("SELECT count(*) FROM t") == 1
