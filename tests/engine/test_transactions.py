"""transaction(): bound to the calling task, commit/rollback, savepoints, isolation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import loopsafe


async def test_commit_on_exit(db: loopsafe.Database) -> None:
    async with db.transaction():
        await db.execute("INSERT INTO items (name) VALUES ('a')")
        await db.execute("INSERT INTO items (name) VALUES ('b')")
    assert await db.fetchval("SELECT count(*) FROM items") == 2


async def test_rollback_on_exception(db: loopsafe.Database) -> None:
    with pytest.raises(ZeroDivisionError):
        async with db.transaction():
            await db.execute("INSERT INTO items (name) VALUES ('a')")
            _ = 1 / 0
    assert await db.fetchval("SELECT count(*) FROM items") == 0


async def test_rollback_on_cancel(db: loopsafe.Database) -> None:
    inside = asyncio.Event()

    async def work() -> None:
        async with db.transaction():
            await db.execute("INSERT INTO items (name) VALUES ('a')")
            inside.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(work())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await db.fetchval("SELECT count(*) FROM items") == 0
    await db.execute("INSERT INTO items (name) VALUES ('after')")  # the writer is free again


async def test_reads_inside_see_own_writes_and_others_do_not(db: loopsafe.Database) -> None:
    go = asyncio.Event()

    async def read_later() -> int:
        await go.wait()
        return int(await db.fetchval("SELECT count(*) FROM items"))

    other = asyncio.create_task(read_later())  # started outside the block
    async with db.transaction():
        await db.execute("INSERT INTO items (name) VALUES ('mine')")
        assert await db.fetchval("SELECT count(*) FROM items") == 1
        # Another task reads through a reader: it must not see uncommitted data.
        go.set()
        assert await other == 0
        rows = [row async for row in db.iterate("SELECT name FROM items")]
        assert rows == [("mine",)]


async def test_nested_blocks_are_savepoints(db: loopsafe.Database) -> None:
    async with db.transaction():
        await db.execute("INSERT INTO items (name) VALUES ('outer')")
        with pytest.raises(KeyError):
            async with db.transaction():
                await db.execute("INSERT INTO items (name) VALUES ('inner')")
                raise KeyError
        async with db.transaction():
            await db.execute("INSERT INTO items (name) VALUES ('kept')")
    names = {r[0] for r in await db.fetchall("SELECT name FROM items")}
    assert names == {"outer", "kept"}


async def test_two_tasks_transactions_never_interleave(db: loopsafe.Database) -> None:
    log: list[str] = []

    async def txn(tag: str) -> None:
        async with db.transaction():
            log.append(f"{tag}-begin")
            for i in range(5):
                await db.execute("INSERT INTO items (name) VALUES (?)", (f"{tag}{i}",))
                await asyncio.sleep(0)
            log.append(f"{tag}-end")

    await asyncio.gather(txn("a"), txn("b"), txn("c"))
    for i in range(0, len(log), 2):
        assert log[i].split("-")[0] == log[i + 1].split("-")[0]  # begin/end pairs adjacent
    assert await db.fetchval("SELECT count(*) FROM items") == 15


async def test_independent_writes_wait_for_an_open_transaction(db: loopsafe.Database) -> None:
    go = asyncio.Event()

    async def write_later() -> None:
        await go.wait()
        await db.execute("INSERT INTO items (name) VALUES ('o')")

    other = asyncio.create_task(write_later())  # started outside the block: not part of it
    async with db.transaction():
        await db.execute("INSERT INTO items (name) VALUES ('t')")
        go.set()
        await asyncio.sleep(0.05)
        assert not other.done()
    await other
    assert await db.fetchval("SELECT count(*) FROM items") == 2


async def test_failed_statement_inside_leaves_the_transaction_usable(db: loopsafe.Database) -> None:
    async with db.transaction():
        await db.execute("INSERT INTO items (name) VALUES ('x')")
        with pytest.raises(loopsafe.IntegrityError):
            await db.execute("INSERT INTO items (name) VALUES ('x')")
        await db.execute("INSERT INTO items (name) VALUES ('y')")
    assert await db.fetchval("SELECT count(*) FROM items") == 2


async def test_transaction_past_its_limit_is_rolled_back(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (x)")
        with pytest.raises(loopsafe.DeadlineError):
            async with db.transaction(timeout=0.1):
                await db.execute("INSERT INTO t VALUES (1)")
                await asyncio.sleep(0.3)
                await db.execute("INSERT INTO t VALUES (2)")
        assert await db.fetchval("SELECT count(*) FROM t") == 0
        await db.execute("INSERT INTO t VALUES (3)")
        assert await db.fetchval("SELECT count(*) FROM t") == 1


async def test_write_callable_inside_a_transaction_joins_it(db: loopsafe.Database) -> None:
    with pytest.raises(ValueError, match="undo"):
        async with db.transaction():
            await db.write(lambda conn: conn.execute("INSERT INTO items (name) VALUES ('w')"))
            raise ValueError("undo")
    assert await db.fetchval("SELECT count(*) FROM items") == 0


async def test_transaction_statements_are_refused_in_execute(db: loopsafe.Database) -> None:
    for sql in ("BEGIN", "commit", "  ROLLBACK", "SAVEPOINT x", "-- c\nEND"):
        with pytest.raises(loopsafe.TransactionError):
            await db.execute(sql)
