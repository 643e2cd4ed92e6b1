"""close(), ClosedError, and programs that exit without closing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import loopsafe

from .test_cancellation import ENDLESS


def _engine_threads() -> int:
    return sum(t.name.startswith("loopsafe-") for t in threading.enumerate())


async def test_close_joins_every_thread(path: Path) -> None:
    before = _engine_threads()
    db = await loopsafe.open(path, readers=3)
    assert _engine_threads() == before + 4
    await db.close()
    assert _engine_threads() == before


async def test_closed_database_raises_closed(path: Path) -> None:
    db = await loopsafe.open(path)
    await db.close()
    assert db.closed
    with pytest.raises(loopsafe.ClosedError):
        await db.fetchval("SELECT 1")
    with pytest.raises(loopsafe.ClosedError):
        await db.execute("CREATE TABLE t (x)")
    with pytest.raises(loopsafe.ClosedError):
        async with db.transaction():
            pass
    await db.close()  # idempotent


async def test_close_finishes_queued_writes(path: Path) -> None:
    db = await loopsafe.open(path)
    await db.execute("CREATE TABLE t (x)")
    writes = [asyncio.create_task(db.execute("INSERT INTO t VALUES (?)", (i,))) for i in range(300)]
    await asyncio.sleep(0)
    await db.close()
    results = await asyncio.gather(*writes, return_exceptions=True)
    committed = sum(isinstance(r, loopsafe.ExecuteResult) for r in results)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, loopsafe.ClosedError) for r in failed)
    async with loopsafe.open(path) as again:
        assert await again.fetchval("SELECT count(*) FROM t") == committed
    assert committed == 300  # queued before close: finished, not dropped


async def test_close_stops_a_running_statement_within_about_a_second(path: Path) -> None:
    db = await loopsafe.open(path, readers=1)
    slow = asyncio.create_task(db.fetchval(ENDLESS))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await db.close()
    assert time.monotonic() - started < 5  # generous: the grace period is one second
    with pytest.raises((loopsafe.AbortedError, loopsafe.ClosedError)):
        await slow


async def test_close_rolls_back_an_open_transaction(path: Path) -> None:
    db = await loopsafe.open(path)
    await db.execute("CREATE TABLE t (x)")
    inside = asyncio.Event()

    async def txn() -> None:
        async with db.transaction():
            await db.execute("INSERT INTO t VALUES (1)")
            inside.set()
            await asyncio.sleep(0.2)
            await db.execute("INSERT INTO t VALUES (2)")

    task = asyncio.create_task(txn())
    await inside.wait()
    await db.close()
    with pytest.raises(loopsafe.Error):
        await task
    async with loopsafe.open(path) as again:
        assert await again.fetchval("SELECT count(*) FROM t") == 0


def _run(script: str, tmp_path: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(tmp_path / "p.db")],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_program_that_never_closes_exits_promptly(tmp_path: Path) -> None:
    script = f"""
        import asyncio, sys, loopsafe
        async def main():
            db = await loopsafe.open(sys.argv[1])
            await db.execute("CREATE TABLE t (x)")
            await db.execute("INSERT INTO t VALUES (1)")
            # leave work in flight and never close
            for _ in range(50):
                asyncio.ensure_future(db.execute("INSERT INTO t VALUES (2)"))
                asyncio.ensure_future(db.fetchval({ENDLESS!r}))
            await asyncio.sleep(0.05)
            print("done")
        asyncio.run(main())
    """
    started = time.monotonic()
    proc = _run(script, tmp_path)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    for bad in ("Event loop is closed", "InvalidStateError", "Traceback"):
        assert bad not in proc.stderr
    assert elapsed < 20  # a hang would hit the subprocess timeout instead


def test_work_left_when_the_loop_closes_raises_nothing(tmp_path: Path) -> None:
    script = """
        import asyncio, sys, loopsafe
        db = None
        async def main():
            global db
            db = await loopsafe.open(sys.argv[1])
            await db.execute("CREATE TABLE t (x)")
            for i in range(200):
                asyncio.ensure_future(db.execute("INSERT INTO t VALUES (?)", (i,)))
        asyncio.run(main())
        import time; time.sleep(0.3)  # workers finish after the loop closed
        print("ok")
    """
    proc = _run(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert "Event loop is closed" not in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_a_dropped_database_lets_its_threads_finish(path: Path) -> None:
    import gc

    before = _engine_threads()
    db = await loopsafe.open(path, readers=2)
    await db.fetchval("SELECT 1")
    del db
    gc.collect()
    for _ in range(200):
        if _engine_threads() == before:
            break
        await asyncio.sleep(0.01)
    assert _engine_threads() == before
