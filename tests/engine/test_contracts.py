"""The engine keeps its contracts in unusual but legal uses: each test here once saw a hang,
a wrong answer or a silent rollback (one test per defect)."""

from __future__ import annotations

import asyncio
import gc
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import loopsafe
from loopsafe.engine._reader import Reader
from loopsafe.engine._request import Op, Request
from loopsafe.engine._routing import Kind, statement_kind
from loopsafe.engine._worker import run_operation


class Rollback(Exception):
    pass


async def _table(db: loopsafe.Database, rows: int = 0) -> None:
    await db.execute("CREATE TABLE t (x INTEGER)")
    if rows:
        await db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1, rows + 1)])


async def _count(db: loopsafe.Database) -> int:
    return int(await db.fetchval("SELECT count(*) FROM t", timeout=10))


async def _until(condition: Callable[[], bool]) -> None:
    # For a state no future announces (a request counted in its lane).
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never held")


# 1. The writer's fallback fails only what it did not answer.


async def test_a_bug_after_a_group_commit_does_not_fail_the_writes_it_committed(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with loopsafe.open(path) as db:
        await _table(db)
        writer = db._pool.writer
        assert writer is not None
        original = writer.commit_group
        broken: list[int] = []

        def commit_then_fail(conn: sqlite3.Connection, group: list[Request]) -> None:
            original(conn, group)  # committed and reported
            if not broken:
                broken.append(len(group))
                raise RuntimeError("a bug after the group was answered")

        monkeypatch.setattr(writer, "commit_group", commit_then_fail)
        results = await asyncio.gather(
            *(db.execute("INSERT INTO t VALUES (?)", (i,), timeout=10) for i in range(20)),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert await _count(db) == 20
        assert db.stats().write_inflight == 0


@pytest.mark.parametrize(
    "option",
    [
        {"transaction_timeout": math.inf},
        {"transaction_timeout": -1.0},
        {"iterate_idle_timeout": math.inf},
        {"iterate_idle_timeout": -1.0},
        {"max_batch_wait": math.inf},
        {"busy_timeout": math.nan},
        {"timeout": math.inf},
    ],
)
async def test_timing_options_must_be_finite_and_not_negative(
    path: Path, option: dict[str, float]
) -> None:
    with pytest.raises(loopsafe.ArgumentError, match="finite"):
        await loopsafe.open(path, **option)  # type: ignore[arg-type]


async def test_a_call_timeout_must_be_finite(db: loopsafe.Database) -> None:
    with pytest.raises(ValueError, match="finite"):
        await db.fetchval("SELECT 1", timeout=math.inf)
    with pytest.raises(ValueError, match="finite"):
        db.transaction(timeout=math.inf)


# 2. A reader survives a bug in its own serve loop.


async def test_a_reader_carries_on_after_a_bug_in_its_serve_loop(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with loopsafe.open(path, readers=1) as db:
        await _table(db, rows=10)

        def broken(self: Reader, conn: sqlite3.Connection, req: Request) -> None:
            raise RuntimeError("a bug in the reader")

        monkeypatch.setattr(Reader, "iterate", broken)
        with pytest.raises(RuntimeError, match="a bug in the reader"):
            async for _ in db.iterate("SELECT x FROM t", timeout=10):
                pass
        monkeypatch.undo()
        assert await _count(db) == 10  # the only reader is still alive
        assert db.stats().read_inflight == 0


# 3. read(fn) leaves no transaction behind.


async def test_read_callable_that_began_a_transaction_leaves_no_stale_snapshot(
    path: Path,
) -> None:
    async with loopsafe.open(path, readers=1) as db:
        await _table(db)

        def begin_read_fail(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM t").fetchone()
            raise KeyError("fn failed inside its own transaction")

        with pytest.raises(KeyError):
            await db.read(begin_read_fail, timeout=10)
        await db.execute("INSERT INTO t VALUES (1)")
        assert await _count(db) == 1  # the one reader sees the new row


# 4. A Transaction object decides nesting each time it is entered.


async def test_a_transaction_object_can_be_used_nested_then_at_top_level(
    db: loopsafe.Database,
) -> None:
    reused = db.transaction()
    async with db.transaction(), reused:
        await db.execute("INSERT INTO items (name) VALUES ('nested')", timeout=10)
    async with reused:
        await db.execute("INSERT INTO items (name) VALUES ('top')", timeout=10)
    assert not db.closed
    names = await db.fetchall("SELECT name FROM items ORDER BY id", timeout=10)
    assert names == [("nested",), ("top",)]
    async with db.transaction(timeout=10):  # the writer is free
        await db.execute("INSERT INTO items (name) VALUES ('after')", timeout=10)


# 5. Tasks started inside transaction() (wait_for, gather, shield) share it.


async def test_calls_through_wait_for_gather_and_shield_run_in_the_transaction(
    db: loopsafe.Database,
) -> None:
    insert = "INSERT INTO items (name) VALUES (?)"
    with pytest.raises(Rollback):
        async with db.transaction(timeout=10):
            await asyncio.wait_for(db.execute(insert, ("wait_for",)), 10)
            await asyncio.gather(db.execute(insert, ("a",)), db.execute(insert, ("b",)))
            await asyncio.shield(db.execute(insert, ("shield",)))
            assert await db.fetchval("SELECT count(*) FROM items") == 4
            raise Rollback
    assert await db.fetchval("SELECT count(*) FROM items", timeout=10) == 0  # all rolled back
    async with db.transaction(timeout=10):
        await asyncio.gather(db.execute(insert, ("c",)), db.execute(insert, ("d",)))
    assert await db.fetchval("SELECT count(*) FROM items", timeout=10) == 2


async def test_a_task_inside_transaction_cannot_open_its_own(db: loopsafe.Database) -> None:
    async def own_block() -> None:
        async with db.transaction():
            pass

    async with db.transaction(timeout=10):
        with pytest.raises(loopsafe.TransactionError, match="shares the block"):
            await asyncio.wait_for(own_block(), 10)


# 6. A task garbage-collected inside transaction() frees the writer.


async def test_a_task_collected_inside_a_transaction_rolls_it_back(path: Path) -> None:
    async with loopsafe.open(path, transaction_timeout=60) as db:
        await _table(db)
        started = asyncio.Event()

        async def forgotten() -> None:
            async with db.transaction():
                await db.execute("INSERT INTO t VALUES (1)")
                started.set()
                await asyncio.get_running_loop().create_future()  # nobody will resolve it

        task: asyncio.Task[None] | None = asyncio.create_task(forgotten())
        await started.wait()
        await asyncio.sleep(0)
        del task
        gc.collect()
        await db.execute("INSERT INTO t VALUES (2)", timeout=10)  # the writer is free
        assert await db.fetchall("SELECT x FROM t", timeout=10) == [(2,)]


# 7. A Database used from another event loop says so before anything runs.


async def test_a_call_from_another_event_loop_is_refused_before_it_runs(
    db: loopsafe.Database,
) -> None:
    def from_another_loop() -> BaseException | None:
        async def use() -> None:
            await db.execute("INSERT INTO items (name) VALUES ('elsewhere')")

        try:
            asyncio.run(use())
        except BaseException as exc:
            return exc
        return None

    error = await asyncio.to_thread(from_another_loop)
    assert isinstance(error, loopsafe.WrongLoopError)
    assert await db.fetchval("SELECT count(*) FROM items") == 0
    assert db.stats().write_inflight == 0


# 8. Deadlines and cancels stop calls of several statements.


async def test_a_write_callable_past_its_deadline_is_rolled_back(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await _table(db)
        timeout = 0.05

        def slow(conn: sqlite3.Connection) -> None:
            began = time.monotonic()
            conn.execute("INSERT INTO t VALUES (1)")
            while time.monotonic() < began + timeout + 0.05:  # until past its deadline
                time.sleep(0.01)
            conn.execute("INSERT INTO t VALUES (2)")

        with pytest.raises(loopsafe.DeadlineError):
            await db.write(slow, timeout=timeout)
        assert await _count(db) == 0


async def test_a_cancelled_write_callable_is_rolled_back(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await _table(db)
        entered, release = threading.Event(), threading.Event()

        def gated(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t VALUES (1)")
            entered.set()
            release.wait(10)
            conn.execute("INSERT INTO t VALUES (2)")

        task = asyncio.create_task(db.write(gated))
        assert await asyncio.to_thread(entered.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        await db.execute("INSERT INTO t VALUES (3)", timeout=10)  # queued behind `gated`
        assert await db.fetchall("SELECT x FROM t", timeout=10) == [(3,)]


async def test_a_read_callable_past_its_deadline_raises(path: Path) -> None:
    async with loopsafe.open(path) as db:
        timeout = 0.05

        def slow(conn: sqlite3.Connection) -> int:
            began = time.monotonic()
            while time.monotonic() < began + timeout + 0.05:
                time.sleep(0.01)
            return int(conn.execute("SELECT 1").fetchone()[0])

        with pytest.raises(loopsafe.DeadlineError):
            await db.read(slow, timeout=timeout)


def test_a_script_stops_between_statements_once_its_caller_is_gone() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    loop = asyncio.new_event_loop()
    try:
        req = Request(Op.SCRIPT, loop.create_future(), sql="SELECT gone(); CREATE TABLE late (x);")

        def gone() -> int:
            req.cancelled = True  # the cancel lands after this statement, before the next
            return 1

        conn.create_function("gone", 0, gone)
        with pytest.raises(loopsafe.AbortedError):
            run_operation(conn, req)
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    finally:
        loop.close()
        conn.close()


async def test_a_script_runs_each_statement_with_semicolons_in_literals_and_triggers(
    path: Path,
) -> None:
    async with loopsafe.open(path) as db:
        await db.executescript(
            """
            CREATE TABLE a (x TEXT); -- a comment; with a semicolon
            CREATE TABLE log (x TEXT);
            CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO log VALUES (new.x); END;
            INSERT INTO a VALUES ('one;two');
            /* trailing comment */
            """
        )
        assert await db.fetchall("SELECT x FROM log") == [("one;two",)]


# 9. A read-only Database never lets iterations pin every reader.


async def test_readonly_query_per_row_inside_iterations_does_not_stall(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await _table(db, rows=10)
    async with loopsafe.open(path, readonly=True, readers=2, iterate_idle_timeout=60) as db:

        async def walk() -> int:
            total = 0
            async for (x,) in db.iterate("SELECT x FROM t", chunk=2, timeout=10):
                total += int(await db.fetchval("SELECT ?", (x,), timeout=10))
            return total

        assert list(await asyncio.gather(walk(), walk())) == [55, 55]


# 10. Every chunk of an iteration gets the Database's default timeout.


async def test_later_chunks_of_an_iteration_keep_the_default_deadline(path: Path) -> None:
    timeout = 4.0  # only the second chunk comes near it: the rest takes milliseconds
    async with loopsafe.open(path, readers=1, timeout=timeout) as db:
        await _table(db, rows=12)
        blocked: list[float] = []

        def gate(x: int) -> int:
            if x >= 7:  # rows of the second chunk: stay until past its deadline
                if not blocked:
                    blocked.append(time.monotonic())
                while time.monotonic() < blocked[0] + timeout + 0.5:
                    time.sleep(0.01)
            return x

        await db.read(lambda conn: conn.create_function("gate", 1, gate))
        rows = db.iterate("SELECT gate(x) FROM t", chunk=4)
        seen = []
        with pytest.raises(loopsafe.DeadlineError):
            async for (x,) in rows:
                seen.append(x)
        assert seen == [1, 2, 3, 4]


# 11. Routing judges a statement by its main keyword.


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("WITH x AS (SELECT 'update' AS s) SELECT replace(s, 'u', 'U') FROM x", Kind.READ),
        ('WITH "delete" AS (SELECT 1) SELECT * FROM "delete"', Kind.READ),
        ("WITH RECURSIVE c(n) AS (VALUES(1) UNION ALL SELECT n FROM c) SELECT n FROM c", Kind.READ),
        ("SELECT 'insert into t values (1)'", Kind.READ),
        ("/* update */ WITH x AS (SELECT 1) SELECT * FROM x", Kind.READ),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", Kind.WRITE),
        ("WITH x AS (SELECT 1) DELETE FROM t", Kind.WRITE),
        ("INSERT INTO t VALUES ('select')", Kind.WRITE),
    ],
)
def test_statements_are_routed_by_their_main_keyword(sql: str, kind: Kind) -> None:
    assert statement_kind(sql) is kind


async def test_a_readonly_database_runs_a_with_select_that_mentions_write_words(
    path: Path,
) -> None:
    async with loopsafe.open(path) as db:
        await _table(db, rows=1)
    async with loopsafe.open(path, readonly=True) as db:
        sql = "WITH x AS (SELECT 'update' AS s FROM t) SELECT replace(s, 'u', 'U') FROM x"
        assert await db.fetchval(sql, timeout=10) == "Update"


# 12. A transaction ended by a call inside it is not reported as rolled back.


async def test_a_write_callable_that_commits_inside_a_transaction_is_reported_truly(
    db: loopsafe.Database,
) -> None:
    with pytest.raises(loopsafe.TransactionError) as at_exit:
        async with db.transaction(timeout=10):
            await db.execute("INSERT INTO items (name) VALUES ('a')")
            with pytest.raises(loopsafe.TransactionError, match="COMMIT or ROLLBACK itself"):
                await db.write(lambda conn: conn.execute("COMMIT"))
    assert "could not commit, it was rolled back" not in str(at_exit.value)
    assert "ended inside the block" in str(at_exit.value)
    assert await db.fetchval("SELECT count(*) FROM items", timeout=10) == 1  # it did commit


# 13. read(fn) and lane="read" never write, whichever connection serves them.


async def test_reads_served_by_the_writer_cannot_write() -> None:
    async with loopsafe.open(":memory:") as db:
        await _table(db)
        with pytest.raises(loopsafe.ReadOnlyError):
            await db.read(lambda conn: conn.execute("INSERT INTO t VALUES (1)"), timeout=10)
        with pytest.raises(loopsafe.ReadOnlyError):
            await db.execute("INSERT INTO t VALUES (2)", lane="read", timeout=10)
        async with db.transaction(timeout=10):
            with pytest.raises(loopsafe.ReadOnlyError):
                await db.read(lambda conn: conn.execute("INSERT INTO t VALUES (3)"))
            await db.execute("INSERT INTO t VALUES (4)")  # the writer still writes
        assert await db.fetchall("SELECT x FROM t", timeout=10) == [(4,)]


# 14. lastrowid belongs to the statement that inserted the row.


async def test_lastrowid_is_none_when_the_statement_inserted_nothing(
    db: loopsafe.Database,
) -> None:
    first = await db.execute("INSERT INTO items (name) VALUES ('a')")
    assert first.lastrowid == 1
    ignored = await db.execute("INSERT OR IGNORE INTO items (name) VALUES ('a')")
    assert ignored == loopsafe.ExecuteResult(rowcount=0, lastrowid=None)
    updated = await db.execute("UPDATE items SET n = 1")
    assert updated == loopsafe.ExecuteResult(rowcount=1, lastrowid=None)
    inserted = await db.execute("INSERT INTO items (name) VALUES ('b')")
    assert inserted.lastrowid == 2


# Also: a transaction cancelled while waiting for the writer logs nothing.


async def test_a_transaction_cancelled_while_waiting_logs_no_unretrieved_error(
    db: loopsafe.Database,
) -> None:
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        release = asyncio.Event()

        holding = asyncio.Event()

        async def holder() -> None:
            async with db.transaction():
                holding.set()
                await release.wait()

        async def waiter() -> None:
            async with db.transaction():
                pass

        held = asyncio.create_task(holder())
        await holding.wait()
        waiting = asyncio.create_task(waiter())
        await _until(lambda: db.stats().write_inflight == 1)  # queued behind the holder
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        await held
        await db.execute("INSERT INTO items (name) VALUES ('after')", timeout=10)
        await asyncio.sleep(0)
        gc.collect()
        await asyncio.sleep(0)
        assert [c.get("message") for c in reported] == []
    finally:
        loop.set_exception_handler(None)


async def test_a_transaction_waiting_for_a_write_slot_past_its_deadline_raises_deadline(
    path: Path,
) -> None:
    async with loopsafe.open(path, write_queue=1) as db:
        await _table(db)
        holding, release = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with db.transaction():
                holding.set()
                await release.wait()

        held = asyncio.create_task(holder())
        await holding.wait()
        queued = asyncio.create_task(db.execute("INSERT INTO t VALUES (1)"))  # takes the slot
        await _until(lambda: db.stats().write_inflight == 1)
        with pytest.raises(loopsafe.DeadlineError, match="waited for a slot in the write lane"):
            async with db.transaction(wait=True, timeout=0.05):
                pass
        release.set()
        await held
        await queued
        assert await _count(db) == 1
