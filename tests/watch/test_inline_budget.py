"""The fast path's budget, watched: a read that turns slow while it runs inline is stopped
and moved to a reader, and the loop keeps turning meanwhile.

Asserted on what the engine reports (its inline stats) and on the monitor's heartbeat
count, never on wall-clock lag: these VMs lose the CPU to their host for 2-40 ms at a
time, which no budget on the loop can prevent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import loopsafe
from loopsafe.watch import LoopMonitor

SCAN = "SELECT count(*) FROM grow WHERE v LIKE ? AND 4 = 4"  # this test's own statement text


async def test_a_read_that_grows_slow_is_stopped_by_the_budget_and_moved(tmp_path: Path) -> None:
    async with (
        loopsafe.open(tmp_path / "grow.db") as db,
        LoopMonitor(threshold=0.05, log=False) as monitor,
    ):
        await db.execute("CREATE TABLE grow (id INTEGER PRIMARY KEY, v TEXT)")
        await db.executemany("INSERT INTO grow (v) VALUES (?)", [("seed",)] * 10)
        # Warm the loop's connection (its first statement after a schema change reloads
        # the schema), so the first inline try of SCAN measures SCAN alone.
        for _ in range(2):
            await db.fetchval("SELECT count(*) FROM grow WHERE id < 0 AND 4 = 4")
        assert await db.fetchval(SCAN, ("%z%",)) == 0  # a reader learns: fast
        grown = 10
        answers: list[int] = []
        # The table grows between reads, the same statement text read after each step:
        # cheap at first (answered inline), then past the budget.
        while db.inline_stats().aborted == 0 and grown < 1_000_000:
            await db.executemany("INSERT INTO grow (v) VALUES (?)", [("x" * 40,)] * 250)
            grown += 250
            answers.append(await db.fetchval(SCAN, ("%x%",)))
        stats = db.inline_stats()
        print(f"stopped at {grown} rows; {stats}; loop lag {monitor.snapshot()}")
        assert stats.aborted == 1, "the growing scan was never stopped by the budget"
        assert stats.ran >= 2, "the scan never ran inline while it was cheap"
        assert answers[-1] == grown - 10  # the stopped call was answered, by a reader
        # Moved: the next calls of that text are the readers'.
        ran = stats.ran
        for _ in range(5):
            assert await db.fetchval(SCAN, ("%x%",)) == grown - 10
        assert db.inline_stats().ran == ran
        assert db.inline_stats().aborted == 1
        await asyncio.sleep(0.1)
        assert monitor.snapshot().count > 0  # the loop kept turning: heartbeats ran
