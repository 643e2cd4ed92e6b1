"""acquire / release: one shared Database per file, options and event loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

import loopsafe
from loopsafe.engine import acquire, release, release_nowait


async def test_two_acquires_of_one_file_share_a_database(tmp_path: Path) -> None:
    first = await acquire(tmp_path / "a.db")
    second = await acquire(str(tmp_path / "sub" / ".." / "a.db"))
    try:
        assert first is second
    finally:
        await release(first)
        assert not first.closed  # one share left
        await release(second)
    assert first.closed


async def test_releasing_more_often_than_acquired_is_refused(tmp_path: Path) -> None:
    db = await acquire(tmp_path / "a.db")
    await release(db)
    with pytest.raises(loopsafe.ArgumentError):
        await release(db)
    async with loopsafe.open(tmp_path / "b.db") as other:
        with pytest.raises(loopsafe.ArgumentError):
            await release(other)


async def test_other_options_get_another_database(tmp_path: Path) -> None:
    normal = await acquire(tmp_path / "a.db")
    full = await acquire(tmp_path / "a.db", durability="full")
    try:
        assert normal is not full
    finally:
        await release(normal)
        await release(full)


async def test_memory_is_never_shared() -> None:
    first = await acquire(":memory:")
    second = await acquire(":memory:")
    try:
        assert first is not second
        await first.execute("CREATE TABLE only_here (v)")
        with pytest.raises(loopsafe.SQLError):
            await second.fetchall("SELECT * FROM only_here")
    finally:
        await release(first)
        await release(second)
    assert first.closed
    assert second.closed


async def test_concurrent_acquires_open_it_once(tmp_path: Path) -> None:
    dbs = await asyncio.gather(*(acquire(tmp_path / "a.db") for _ in range(8)))
    assert len({id(db) for db in dbs}) == 1
    for db in dbs:
        await release(db)
    assert dbs[0].closed


async def test_a_failed_open_is_not_kept(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir.db"
    for _ in range(2):
        with pytest.raises(loopsafe.CannotOpenError):
            await acquire(missing)


async def test_a_closed_database_is_replaced(tmp_path: Path) -> None:
    db = await acquire(tmp_path / "a.db")
    await db.close()
    again = await acquire(tmp_path / "a.db")
    try:
        assert again is not db
        assert not again.closed
    finally:
        await release(again)


async def test_release_nowait_closes_the_last_share_in_the_background(tmp_path: Path) -> None:
    db = await acquire(tmp_path / "a.db")
    release_nowait(db)
    await asyncio.sleep(0)  # the close task's first step
    assert db.closed
    await db.close()  # waits for the background close


async def test_each_event_loop_gets_its_own(tmp_path: Path) -> None:
    here = await acquire(tmp_path / "a.db")
    there: list[loopsafe.Database] = []

    async def elsewhere() -> None:
        db = await acquire(tmp_path / "a.db")
        there.append(db)
        await release(db)

    thread = threading.Thread(target=lambda: asyncio.run(elsewhere()))
    thread.start()
    await asyncio.to_thread(thread.join)
    try:
        assert there
        assert there[0] is not here
    finally:
        await release(here)
