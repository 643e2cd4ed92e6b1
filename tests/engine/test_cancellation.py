"""Deadlines and cancellation stop the running statement and leave everything clean."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest

import loopsafe

# Counts to a billion: minutes of work unless it is really stopped.
ENDLESS = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT count(*) FROM c"
)


async def test_deadline_stops_a_slow_read_and_frees_its_reader(path: Path) -> None:
    async with loopsafe.open(path, readers=1) as db:
        with pytest.raises(loopsafe.DeadlineError):
            await db.fetchval(ENDLESS, timeout=0.1)
        # One reader: this can only answer if the endless statement was really stopped.
        assert await db.fetchval("SELECT 41 + 1", timeout=5) == 42


async def test_timeout_is_also_a_builtin_timeout_error(db: loopsafe.Database) -> None:
    with pytest.raises(TimeoutError):
        await db.fetchval(ENDLESS, timeout=0.05)


async def test_default_timeout_from_open_applies(path: Path) -> None:
    async with loopsafe.open(path, timeout=0.1, readers=1) as db:
        with pytest.raises(loopsafe.DeadlineError):
            await db.fetchval(ENDLESS)


async def test_deadline_stops_a_slow_write_and_rolls_it_back(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (x)")
        slow_insert = ENDLESS.replace("SELECT count(*) FROM c", "INSERT INTO t SELECT x FROM c")
        with pytest.raises(loopsafe.DeadlineError):
            await db.execute(slow_insert, timeout=0.1)
        assert await db.fetchval("SELECT count(*) FROM t") == 0
        await db.execute("INSERT INTO t VALUES (1)")
        assert await db.fetchval("SELECT count(*) FROM t") == 1


async def test_cancelled_read_releases_its_reader(path: Path) -> None:
    # SELECT 1 must reach the reader (the fast path would answer it on the loop).
    async with loopsafe.open(path, readers=1, inline=False) as db:
        task = asyncio.create_task(db.fetchval(ENDLESS))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await db.fetchval("SELECT 1", timeout=5) == 1
        assert db.stats().read_inflight == 0


async def test_write_cancelled_mid_batch_leaves_the_others_committed(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (x)")
        slow = asyncio.create_task(
            db.execute(ENDLESS.replace("SELECT count(*) FROM c", "INSERT INTO t SELECT -x FROM c"))
        )
        quick = [
            asyncio.create_task(db.execute("INSERT INTO t VALUES (?)", (i,))) for i in range(20)
        ]
        await asyncio.sleep(0.05)
        slow.cancel()
        await asyncio.gather(*quick)
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert await db.fetchval("SELECT count(*) FROM t WHERE x >= 0") == 20
        assert await db.fetchval("SELECT count(*) FROM t WHERE x < 0") == 0


async def test_cancellation_storm_leaves_no_transaction_and_no_leak(path: Path) -> None:
    rng = random.Random(1234)
    async with loopsafe.open(path, readers=2) as db:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        await db.executemany("INSERT INTO t (v) VALUES (?)", [(i,) for i in range(2000)])

        async def one(i: int) -> None:
            kind = i % 5
            if kind == 0:
                await db.fetchall("SELECT * FROM t WHERE v > ?", (rng.randrange(2000),))
            elif kind == 1:
                await db.execute("UPDATE t SET v = v + 1 WHERE id = ?", (rng.randrange(2000),))
            elif kind == 2:
                async with db.transaction():
                    await db.execute("INSERT INTO t (v) VALUES (?)", (-i,))
                    await asyncio.sleep(0)
                    await db.execute("DELETE FROM t WHERE v = ?", (-i,))
            elif kind == 3:
                async for _ in db.iterate("SELECT * FROM t", chunk=100):
                    await asyncio.sleep(0)
            else:
                await db.fetchval(ENDLESS)

        tasks = [asyncio.create_task(one(i)) for i in range(3000)]
        for _ in range(60):
            await asyncio.sleep(rng.random() * 0.004)
            for task in rng.sample(tasks, 80):
                task.cancel()
        for task in tasks:
            if not task.done():
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        unexpected = [
            r
            for r in results
            if isinstance(r, BaseException)
            and not isinstance(r, asyncio.CancelledError | loopsafe.OverloadedError)
        ]
        assert unexpected == []
        cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
        completed = sum(r is None for r in results)
        assert cancelled > 500
        assert completed > 50
        # Everything drained back: no call still counted in flight.
        for _ in range(100):
            if db.stats().read_inflight == 0 and db.stats().write_inflight == 0:
                break
            await asyncio.sleep(0.02)
        assert db.stats().read_inflight == 0
        assert db.stats().write_inflight == 0
        # No transaction is open: another connection can take the write lock at once.
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()
        # No transaction's half-work survived (every insert had a matching delete or none).
        assert await db.fetchval("SELECT count(*) FROM t WHERE v < 0") == 0
        assert await db.fetchval("SELECT count(*) FROM t") == 2000
        await db.execute("INSERT INTO t (v) VALUES (1)")


async def test_cancelled_while_waiting_for_the_writer_never_begins(db: loopsafe.Database) -> None:
    holder_in = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with db.transaction():
            holder_in.set()
            await release.wait()

    hold = asyncio.create_task(holder())
    await holder_in.wait()
    waiting = asyncio.create_task(db.execute("INSERT INTO items (name) VALUES ('late')"))

    async def blocked_txn() -> None:
        async with db.transaction():
            await db.execute("INSERT INTO items (name) VALUES ('never')")

    blocked = asyncio.create_task(blocked_txn())
    await asyncio.sleep(0.02)
    blocked.cancel()
    release.set()
    await hold
    await waiting
    with pytest.raises(asyncio.CancelledError):
        await blocked
    assert await db.fetchval("SELECT count(*) FROM items WHERE name = 'never'") == 0
    await db.execute("INSERT INTO items (name) VALUES ('writer-still-free')")
