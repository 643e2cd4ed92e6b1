"""Database.terminate(): a synchronous hard close."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

import loopsafe

SPIN = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def _engine_threads() -> int:
    return sum(t.name.startswith("loopsafe-") for t in threading.enumerate())


async def test_terminate_stops_running_calls_and_refuses_new_ones(path: Path) -> None:
    before = _engine_threads()
    db = await loopsafe.open(path, readers=2)
    await db.execute("CREATE TABLE t (v)")
    txn = await db.begin()
    await txn.execute("INSERT INTO t VALUES (1)")
    spinning = [asyncio.create_task(db.fetchall(SPIN)) for _ in range(3)]
    await asyncio.sleep(0)
    db.terminate()
    assert db.closed
    for task in spinning:
        with pytest.raises((loopsafe.ClosedError, loopsafe.AbortedError)):
            await task
    with pytest.raises(loopsafe.ClosedError):
        await db.fetchall("SELECT 1")
    await db.close()  # joins the threads
    assert _engine_threads() == before
    async with loopsafe.open(path) as again:
        assert await again.fetchval("SELECT count(*) FROM t") == 0  # rolled back


async def test_terminate_from_another_thread(path: Path) -> None:
    db = await loopsafe.open(path)
    await asyncio.to_thread(db.terminate)
    assert db.closed
    await db.close()
