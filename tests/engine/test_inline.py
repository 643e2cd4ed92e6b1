"""The inline fast path: learned-fast reads answered on the loop's thread, under a budget."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import loopsafe
from loopsafe.engine import _inline

from .test_cancellation import ENDLESS

POINT = "SELECT id, v FROM t WHERE id = ?"
# Tests that count inline calls use a budget no host pause or cold schema load reaches
# (these VMs lose the CPU for 2-40 ms): a 200 µs budget would make their counts random.
STEADY = 0.05


async def _filled(db: loopsafe.Database, rows: int = 100) -> None:
    await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    await db.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(rows)])


async def test_a_learned_point_read_runs_inline_and_an_unknown_one_never_first(path: Path) -> None:
    async with loopsafe.open(path, inline_budget=STEADY) as db:
        await _filled(db)
        sql = "SELECT v FROM t WHERE id = ? AND 1 = 1"  # a text no other test taught
        assert await db.fetchone(sql, (3,)) == ("v3",)
        assert db.inline_stats().ran == 0  # first time: a reader runs it and learns its cost
        assert await db.fetchone(sql, (4,)) == ("v4",)
        assert await db.fetchval(sql, (5,)) == "v5"
        assert await db.fetchall(sql, (6,)) == [("v6",)]
        stats = db.inline_stats()
        assert stats.enabled
        assert stats.ran == 3
        assert isinstance(stats, loopsafe.InlineStats)


async def test_inline_false_sends_every_call_to_the_threads(path: Path) -> None:
    async with loopsafe.open(path, inline=False) as db:
        await _filled(db)
        for i in range(5):
            assert await db.fetchone(POINT, (i,)) == (i, f"v{i}")
        assert db.inline_stats() == loopsafe.InlineStats(False, 0, 0, 0, 0, 0)


async def test_an_inline_read_sees_the_write_awaited_before_it(path: Path) -> None:
    async with loopsafe.open(path, inline_budget=STEADY) as db:
        await _filled(db)
        await db.fetchone(POINT, (1,))  # learned
        for i in range(100, 120):
            await db.execute("INSERT INTO t VALUES (?, ?)", (i, "new"))
            assert await db.fetchone(POINT, (i,)) == (i, "new")
        assert db.inline_stats().ran >= 20


async def test_a_statement_past_its_budget_is_stopped_and_moved_to_a_reader(path: Path) -> None:
    async with loopsafe.open(path, inline_budget=0.002) as db:
        await _filled(db, rows=10)
        scan = "SELECT count(*) FROM t WHERE v LIKE '%9%' AND 2 = 2"  # this test's own text
        assert await db.fetchval(scan) == 1  # a reader learns it is fast (10 rows)
        assert await db.fetchval(scan) == 1
        assert db.inline_stats().ran == 1
        # The table grows: the same text now scans far more than 200 µs of rows.
        await db.executemany(
            "INSERT INTO t (v) VALUES (?)", [(f"row {i} " * 8,) for i in range(200_000)]
        )
        expected = await db.read(lambda c: c.execute(scan).fetchone()[0])
        assert await db.fetchval(scan) == expected  # answered all the same, by a reader
        stats = db.inline_stats()
        assert stats.aborted == 1
        assert stats.ran == 1  # the aborted call is not counted as answered inline
        assert await db.fetchval(scan) == expected
        assert db.inline_stats().ran == 1  # backed off: it stays on the readers


async def test_an_aborted_statement_backs_off_then_is_tried_again(path: Path) -> None:
    async with loopsafe.open(path, inline_budget=STEADY) as db:
        await _filled(db)
        await db.fetchone(POINT, (1,))
        before = db.inline_stats().ran
        db._inline._bar(POINT)  # as after an abort: the next BACKOFF calls go to readers
        for i in range(_inline.BACKOFF):
            await db.fetchone(POINT, (i,))
        assert db.inline_stats().ran == before
        # A host pause during one of those reader runs can make the readers unlearn it:
        # this test is about the back-off, so it is learned again here.
        db._inline._fast.add(POINT)
        await db.fetchone(POINT, (1,))
        assert db.inline_stats().ran == before + 1
        db._inline._bar(POINT)  # a second abort doubles the back-off
        for i in range(_inline.BACKOFF * 2):
            await db.fetchone(POINT, (i % 100,))
        assert db.inline_stats().ran == before + 1
        db._inline._fast.add(POINT)
        await db.fetchone(POINT, (1,))
        assert db.inline_stats().ran == before + 2


async def test_a_locked_file_is_never_waited_for_on_the_loop(path: Path) -> None:
    # A rollback-journal file read by a readonly Database: another process's EXCLUSIVE
    # lock makes every reader wait (busy_timeout); the loop must not.
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    setup.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(10)])
    setup.close()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        async with loopsafe.open(path, busy_timeout=10.0, readonly=True) as db:
            await db.fetchone(POINT, (1,))  # learned (if it was not already)
            assert db.inline_stats().busy == 0
            other.execute("BEGIN EXCLUSIVE")
            pending = asyncio.ensure_future(db.fetchone(POINT, (2,)))
            await asyncio.sleep(0)  # the call ran its inline try, met the lock, went on
            assert db.inline_stats().busy == 1
            assert not pending.done()  # a reader is waiting for the lock
            await asyncio.to_thread(other.execute, "COMMIT")
            assert await pending == (2, "v2")
    finally:
        other.close()


async def test_one_loop_iteration_hands_the_rest_to_the_readers(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await _filled(db)
        await db.fetchone(POINT, (1,))
        ran = asyncio.Event()
        asyncio.get_running_loop().call_soon(ran.set)
        calls = 0
        # An inline call never suspends: without the per-iteration budget this loop would
        # hold the event loop until it ended, and the callback above would not run in it.
        while not ran.is_set():
            await db.fetchone(POINT, (calls % 100,))
            calls += 1
            assert calls < 1_000_000, "the loop never came round"
        assert db.inline_stats().yielded >= 1  # the readers were idle: it waited a turn


async def test_a_timeout_shorter_than_the_budget_goes_to_a_reader(path: Path) -> None:
    async with loopsafe.open(path, inline_budget=0.01) as db:
        await _filled(db)
        await db.fetchone(POINT, (1,))
        before = db.inline_stats().ran
        assert await db.fetchone(POINT, (2,), timeout=0.001 * 5) == (2, "v2")
        assert db.inline_stats().ran == before
        assert await db.fetchone(POINT, (2,), timeout=1.0) == (2, "v2")
        assert db.inline_stats().ran == before + 1


async def test_reads_in_a_transaction_and_in_memory_stay_off_the_fast_path(path: Path) -> None:
    async with loopsafe.open(path, inline_budget=STEADY) as db:
        await _filled(db)
        await db.fetchone(POINT, (1,))
        before = db.inline_stats().ran
        async with db.transaction():
            await db.execute("UPDATE t SET v = 'mine' WHERE id = 1")
            assert await db.fetchone(POINT, (1,)) == (1, "mine")  # the block's own write
        assert db.inline_stats().ran == before
    async with loopsafe.open(":memory:") as mem:
        await _filled(mem)
        for _ in range(3):
            await mem.fetchone(POINT, (1,))
        assert not mem.inline_stats().enabled
        assert mem.inline_stats().ran == 0


async def test_an_inline_error_is_the_one_a_reader_raises(path: Path) -> None:
    async with loopsafe.open(path, inline_budget=STEADY) as db:
        await _filled(db)
        await db.fetchone(POINT, (1,))
        with pytest.raises(loopsafe.ParameterError):
            await db.fetchone(POINT, (1, 2))
        await db.execute("DROP TABLE t")
        with pytest.raises(loopsafe.SQLError, match="no such table"):
            await db.fetchone(POINT, (1,))


async def test_inline_rows_follow_the_row_factory(path: Path) -> None:
    async with loopsafe.open(path, rows="dict", inline_budget=STEADY) as db:
        await _filled(db)
        await db.fetchone(POINT, (1,))
        before = db.inline_stats().ran
        assert await db.fetchone(POINT, (2,)) == {"id": 2, "v": "v2"}
        assert await db.fetchval(POINT, (3,)) == 3
        assert db.inline_stats().ran == before + 2


@pytest.mark.parametrize("budget", [0, -1.0, float("inf"), float("nan"), "fast", True])
def test_a_bad_inline_budget_is_refused(path: Path, budget: object) -> None:
    with pytest.raises(loopsafe.ArgumentError, match="inline_budget"):
        loopsafe.open(path, inline_budget=budget)  # type: ignore[arg-type]


def test_inline_must_be_a_bool(path: Path) -> None:
    with pytest.raises(loopsafe.ArgumentError, match="inline"):
        loopsafe.open(path, inline="yes")  # type: ignore[arg-type]


async def test_closing_turns_the_fast_path_off(path: Path) -> None:
    db = await loopsafe.open(path)
    await _filled(db)
    await db.fetchone(POINT, (1,))
    await db.close()
    assert db._inline.conn is None
    with pytest.raises(loopsafe.ClosedError):
        await db.fetchone(POINT, (1,))


async def test_a_busy_reader_keeps_the_fast_path_off(path: Path) -> None:
    # An inline statement lets go of the GIL inside SQLite; a busy reader would take it.
    async with loopsafe.open(path, readers=2) as db:
        await _filled(db)
        await db.fetchone(POINT, (1,))
        hog = asyncio.create_task(db.fetchval(ENDLESS))
        await asyncio.sleep(0)
        assert db.stats().read_inflight == 1
        before = db.inline_stats().ran
        assert await db.fetchone(POINT, (2,)) == (2, "v2")  # by the other reader
        assert db.inline_stats().ran == before
        hog.cancel()
        await asyncio.gather(hog, return_exceptions=True)


async def test_a_function_added_by_configure_is_on_the_inline_connection_too(path: Path) -> None:
    async with loopsafe.open(path, inline_budget=STEADY) as db:
        await _filled(db)
        learned = "SELECT v FROM t WHERE id = ? AND 3 = 3"  # this test's own text
        await db.fetchone(learned, (1,))
        assert await db.fetchone(learned, (2,)) == ("v2",)
        assert db.inline_stats().ran == 1  # the inline connection is open and in use
        await db.configure(lambda conn: conn.create_function("shout", 1, str.upper))
        sql = "SELECT shout(v) FROM t WHERE id = ?"
        for i in range(40):  # a reader learns it; then it is answered inline
            assert await db.fetchval(sql, (i,)) == f"V{i}"
            await asyncio.sleep(0)  # lets the inline connection catch up off the loop
        assert db.inline_stats().ran > 1
