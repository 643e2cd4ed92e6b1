"""Bounded lanes: a full queue refuses at once, or waits when asked; memory stays bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import loopsafe

from .test_cancellation import ENDLESS


async def test_full_read_lane_refuses_at_once(path: Path) -> None:
    # inline=False: the fast path answers "SELECT 1" without entering the lane at all.
    async with loopsafe.open(path, readers=1, read_queue=4, inline=False) as db:
        blockers = [asyncio.create_task(db.fetchval(ENDLESS)) for _ in range(4)]
        await asyncio.sleep(0)
        with pytest.raises(loopsafe.OverloadedError, match="read queue is full"):
            await db.fetchval("SELECT 1")
        for task in blockers:
            task.cancel()
        await asyncio.gather(*blockers, return_exceptions=True)
        assert await db.fetchval("SELECT 1", wait=True, timeout=5) == 1


async def test_full_write_lane_refuses_at_once(path: Path) -> None:
    async with loopsafe.open(path, write_queue=2) as db:
        await db.execute("CREATE TABLE t (x)")
        slow = ENDLESS.replace("SELECT count(*) FROM c", "INSERT INTO t SELECT x FROM c")
        blockers = [asyncio.create_task(db.execute(slow)) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(loopsafe.OverloadedError, match="write queue is full"):
            await db.execute("INSERT INTO t VALUES (1)")
        for task in blockers:
            task.cancel()
        await asyncio.gather(*blockers, return_exceptions=True)


async def test_wait_true_queues_for_a_slot(path: Path) -> None:
    async with loopsafe.open(path, readers=1, read_queue=2) as db:
        blocker = asyncio.create_task(db.fetchval(ENDLESS, timeout=0.2))
        filler = asyncio.create_task(db.fetchval("SELECT 2"))
        await asyncio.sleep(0)
        waited = await db.fetchval("SELECT 3", wait=True, timeout=5)
        assert waited == 3
        assert await filler == 2
        with pytest.raises(loopsafe.DeadlineError):
            await blocker


async def test_wait_true_gives_up_at_its_deadline_with_deadline_error(path: Path) -> None:
    async with loopsafe.open(path, readers=1, read_queue=1, inline=False) as db:
        blocker = asyncio.create_task(db.fetchval(ENDLESS))
        await asyncio.sleep(0)
        with pytest.raises(loopsafe.DeadlineError, match="waited for a slot"):
            await db.fetchval("SELECT 1", wait=True, timeout=0.1)
        blocker.cancel()
        await asyncio.gather(blocker, return_exceptions=True)


async def test_cancelled_waiter_passes_its_slot_on(path: Path) -> None:
    async with loopsafe.open(path, readers=1, read_queue=1) as db:
        blocker = asyncio.create_task(db.fetchval(ENDLESS, timeout=0.1))
        await asyncio.sleep(0)
        first = asyncio.create_task(db.fetchval("SELECT 1", wait=True))
        second = asyncio.create_task(db.fetchval("SELECT 2", wait=True))
        await asyncio.sleep(0.01)
        first.cancel()
        assert await second == 2
        await asyncio.gather(blocker, first, return_exceptions=True)


async def test_flood_is_bounded_by_the_queue(path: Path) -> None:
    async with loopsafe.open(path, readers=2, read_queue=64) as db:
        await db.execute("CREATE TABLE t (x)")
        await db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(2000)])
        peak = 0

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, db.stats().read_inflight)
                await asyncio.sleep(0)

        sampler = asyncio.create_task(sample())
        results = await asyncio.gather(
            *(db.fetchval("SELECT sum(x) FROM t") for _ in range(5000)), return_exceptions=True
        )
        sampler.cancel()
        refused = sum(isinstance(r, loopsafe.OverloadedError) for r in results)
        answered = sum(r == sum(range(2000)) for r in results)
        assert refused + answered == 5000
        assert refused > 0
        assert answered >= 64
        assert peak <= 64
