"""Edge cases found in review: each once hung, leaked, or told a caller something untrue."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import loopsafe

from .test_cancellation import ENDLESS

SLOW_READ = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
    "SELECT count(*) FROM c"
)


async def _table(db: loopsafe.Database, rows: int = 100) -> None:
    await db.execute("CREATE TABLE t (x INTEGER)")
    await db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])


async def test_an_abandoned_iteration_fails_its_next_chunk_instead_of_hanging(path: Path) -> None:
    async with loopsafe.open(path, readers=1, iterate_idle_timeout=0.1) as db:
        await _table(db)
        rows = db.iterate("SELECT x FROM t", chunk=10)
        seen = [row async for row in _take(rows, 15)]
        await asyncio.sleep(0.3)  # the reader gives the iteration up
        with pytest.raises(loopsafe.DeadlineError):
            async for _ in rows:
                pass
        assert len(seen) == 15
        assert await db.fetchval("SELECT count(*) FROM t", timeout=5) == 100


async def _take(rows: object, n: int):  # type: ignore[no-untyped-def]
    count = 0
    async for row in rows:  # type: ignore[attr-defined]
        yield row
        count += 1
        if count == n:
            return


async def test_a_query_per_row_inside_iterate_does_not_deadlock(path: Path) -> None:
    async with loopsafe.open(path, readers=1, iterate_idle_timeout=60) as db:
        await _table(db)
        total = 0
        async for (x,) in db.iterate("SELECT x FROM t", chunk=10):
            total += await db.fetchval("SELECT ? * 2", (x,), timeout=10)
            async for (y,) in db.iterate("SELECT x FROM t WHERE x = ?", (x,)):
                total -= y
        assert total == sum(range(100))


async def test_close_ends_an_open_iteration_with_closed(path: Path) -> None:
    db = await loopsafe.open(path, readers=1)
    await _table(db)
    rows = db.iterate("SELECT x FROM t", chunk=10)
    seen = [row async for row in _take(rows, 5)]
    await db.close()
    with pytest.raises(loopsafe.ClosedError):
        async for _ in rows:
            pass
    assert len(seen) == 5


async def test_cancelling_the_first_chunk_frees_the_reader(path: Path) -> None:
    async with loopsafe.open(path, readers=1) as db:
        await _table(db)

        async def consume() -> None:
            async for _ in db.iterate(ENDLESS):
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await db.fetchval("SELECT 7", timeout=5) == 7


async def test_a_callable_raising_stopiteration_fails_only_its_caller(
    db: loopsafe.Database,
) -> None:
    calls = [
        db.fetchval("SELECT 1"),
        db.read(lambda conn: next(iter(()))),
        *(db.fetchval("SELECT 2") for _ in range(5)),
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[1], RuntimeError)
    assert results[0] == 1
    assert results[2:] == [2] * 5
    assert db.stats().read_inflight == 0


async def test_a_failed_script_leaves_no_transaction_open(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (x)")
        with pytest.raises(loopsafe.SQLError):
            await db.executescript("BEGIN; INSERT INTO t VALUES (1); NOT SQL;")
        with pytest.raises(loopsafe.TransactionError):
            await db.executescript("BEGIN; INSERT INTO t VALUES (2);")
        await db.execute("INSERT INTO t VALUES (3)")
        assert await db.fetchall("SELECT x FROM t") == [(3,)]
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # the write lock is free
            other.execute("ROLLBACK")
        finally:
            other.close()


async def test_a_transaction_waiting_for_a_slot_gets_closed_when_the_database_closes(
    path: Path,
) -> None:
    db = await loopsafe.open(path, write_queue=1)
    await db.execute("CREATE TABLE t (x)")
    slow_write = ENDLESS.replace("SELECT count(*) FROM c", "INSERT INTO t SELECT x FROM c")
    blocker = asyncio.create_task(db.execute(slow_write))
    await asyncio.sleep(0.02)

    async def txn() -> None:
        async with db.transaction(wait=True):
            await db.execute("INSERT INTO t VALUES (1)")

    waiting = asyncio.create_task(txn())
    await asyncio.sleep(0.02)
    await db.close()
    with pytest.raises(loopsafe.ClosedError):
        await waiting
    await asyncio.gather(blocker, return_exceptions=True)
    assert db.stats().write_inflight == 0


async def test_reads_finished_before_a_slow_read_are_not_held_back(path: Path) -> None:
    async with loopsafe.open(path, readers=2) as db:
        await db.fetchval("SELECT 1")
        order: list[str] = []

        async def read(tag: str, sql: str) -> None:
            await db.fetchval(sql)
            order.append(tag)

        await asyncio.gather(
            read("fast", "SELECT 1"),
            read("slow", SLOW_READ),
            *(read("fast", "SELECT 1") for _ in range(6)),
        )
        assert order[-1] == "slow"


async def test_close_fails_calls_a_busy_reader_had_already_taken(path: Path) -> None:
    db = await loopsafe.open(path, readers=1)
    calls = [asyncio.create_task(db.fetchval(ENDLESS)) for _ in range(3)]
    await asyncio.sleep(0.05)
    await db.close()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, loopsafe.ClosedError | loopsafe.AbortedError) for r in results)
    assert not [t for t in threading.enumerate() if t.name.startswith("loopsafe-")]
    assert db.stats().read_inflight == 0


async def test_or_fail_statement_in_a_group_commits_none_of_its_rows(db: loopsafe.Database) -> None:
    await db.execute("INSERT INTO items (name) VALUES ('taken')")
    others = [db.execute("INSERT INTO items (name) VALUES (?)", (f"o{i}",)) for i in range(5)]
    partial = db.execute("INSERT OR FAIL INTO items (name) VALUES ('a'), ('b'), ('taken'), ('c')")
    results = await asyncio.gather(*others, partial, return_exceptions=True)
    assert isinstance(results[-1], loopsafe.IntegrityError)
    names = {row[0] for row in await db.fetchall("SELECT name FROM items")}
    assert names == {"taken", *(f"o{i}" for i in range(5))}


async def test_executemany_inside_a_transaction_is_all_or_nothing(db: loopsafe.Database) -> None:
    async with db.transaction():
        await db.execute("INSERT INTO items (name) VALUES ('kept')")
        with pytest.raises(loopsafe.IntegrityError):
            await db.executemany("INSERT INTO items (name) VALUES (?)", [("m1",), ("m1",)])
    assert await db.fetchall("SELECT name FROM items") == [("kept",)]


async def test_transaction_statements_are_refused_inside_a_transaction(
    db: loopsafe.Database,
) -> None:
    async with db.transaction():
        await db.execute("INSERT INTO items (name) VALUES ('x')")
        for sql in ("COMMIT", "SAVEPOINT mine", "ROLLBACK"):
            with pytest.raises(loopsafe.TransactionError):
                await db.execute(sql)
    assert await db.fetchval("SELECT count(*) FROM items") == 1


async def test_what_a_write_with_a_deadline_reports_is_what_happened(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (x)")
        await db.execute("CREATE TABLE big (x)")
        slow = ENDLESS.replace("x < 1000000000", "x < 1500000").replace(
            "SELECT count(*) FROM c", "INSERT INTO big SELECT x FROM c"
        )
        blocker = asyncio.create_task(db.execute("INSERT INTO t VALUES (0)"))
        timed = asyncio.create_task(db.execute("INSERT INTO t VALUES (42)", timeout=0.05))
        heavy = asyncio.create_task(db.execute(slow))
        results = await asyncio.gather(blocker, timed, heavy, return_exceptions=True)
        committed = await db.fetchval("SELECT count(*) FROM t WHERE x = 42")
        if isinstance(results[1], loopsafe.DeadlineError):
            assert committed == 0
        else:
            assert isinstance(results[1], loopsafe.ExecuteResult)
            assert committed == 1


async def test_waiters_are_served_first_come_first_served(path: Path) -> None:
    async with loopsafe.open(path, readers=1, read_queue=1, inline=False) as db:
        hog = asyncio.create_task(db.fetchval(SLOW_READ))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(db.fetchval("SELECT 2", wait=True, timeout=30))
        await asyncio.sleep(0)
        # A newcomer that doesn't wait may not jump the queue.
        with pytest.raises(loopsafe.OverloadedError):
            await db.fetchval("SELECT 3")
        assert await waiter == 2
        await hog


async def test_memory_database_writes_while_a_read_is_streaming() -> None:
    async with loopsafe.open(":memory:", busy_timeout=0.5) as db:
        await _table(db)
        async for (x,) in db.iterate("SELECT x FROM t", chunk=10):
            if x == 5:
                await db.execute("INSERT INTO t VALUES (1000)")
        assert await db.fetchval("SELECT count(*) FROM t") == 101


async def test_unencodable_text_is_a_parameter_error(db: loopsafe.Database) -> None:
    with pytest.raises(loopsafe.ParameterError):
        await db.fetchval("SELECT ?", ("\udc80",))


async def test_a_returned_cursor_becomes_rows_or_counts(db: loopsafe.Database) -> None:
    written = await db.write(lambda conn: conn.execute("INSERT INTO items (name) VALUES ('c')"))
    assert written == loopsafe.ExecuteResult(rowcount=1, lastrowid=1)
    rows = await db.read(lambda conn: conn.execute("SELECT name FROM items"))
    assert rows == [("c",)]


async def test_with_insert_reports_its_rowcount(db: loopsafe.Database) -> None:
    result = await db.execute(
        "WITH v(n) AS (VALUES ('p'), ('q')) INSERT INTO items (name) SELECT n FROM v"
    )
    assert result.rowcount == 2


async def test_statements_that_must_run_alone_do_so_whatever_the_lane(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (x)")
        await db.execute("VACUUM", lane="write")
    async with loopsafe.open(path, readonly=True) as db:
        columns = await db.fetchall("PRAGMA table_info(t)")
        assert [c[1] for c in columns] == ["x"]


async def test_the_progress_handler_stops_a_late_statement_while_the_loop_is_blocked(
    path: Path,
) -> None:
    async with loopsafe.open(path, readers=1, progress_steps=1000) as db:
        stopped_at: list[float] = []

        def endless(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(ENDLESS).fetchone()
            finally:
                stopped_at.append(time.monotonic())

        call = asyncio.create_task(db.read(endless, timeout=0.05))
        await asyncio.sleep(0.01)  # the reader has started the statement
        blocked_until = time.monotonic() + 1.0
        # Block the loop on purpose: its timer can't interrupt anything meanwhile.
        time.sleep(1.0)  # noqa: ASYNC251, LS301
        with pytest.raises(loopsafe.DeadlineError):
            await call
        assert stopped_at
        assert stopped_at[0] < blocked_until  # stopped by its own checks, not the loop


async def test_close_leaves_no_wal_behind(path: Path) -> None:
    async with loopsafe.open(path, readers=3) as db:
        await _table(db)
        rows = [row async for row in db.iterate("SELECT x FROM t", chunk=7)]
        assert len(rows) == 100
    # Readers close before the writer, so the last connection can checkpoint the WAL.
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


async def test_a_transaction_timing_out_while_waiting_for_the_writer_frees_it(
    db: loopsafe.Database,
) -> None:
    holder_in = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with db.transaction():
            await db.execute("INSERT INTO items (name) VALUES ('held')")
            holder_in.set()
            await release.wait()

    hold = asyncio.create_task(holder())
    await holder_in.wait()
    with pytest.raises(loopsafe.DeadlineError):
        async with db.transaction(timeout=0.1):
            await db.execute("INSERT INTO items (name) VALUES ('late')")
    release.set()
    await hold
    await db.execute("INSERT INTO items (name) VALUES ('after')", timeout=5)
    names = {row[0] for row in await db.fetchall("SELECT name FROM items")}
    assert names == {"held", "after"}
