"""open(setup=fn) and Database.configure(fn): what every connection of a Database runs."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from pathlib import Path

import pytest

import loopsafe


def _engine_threads() -> int:
    return sum(t.name.startswith("loopsafe-") for t in threading.enumerate())


def _regexp(pattern: str, value: str | None) -> bool:
    return value is not None and re.search(pattern, value) is not None


async def test_setup_runs_on_the_writer_and_every_reader(path: Path) -> None:
    seen: list[str] = []

    def setup(conn: sqlite3.Connection) -> None:
        seen.append(threading.current_thread().name)
        conn.create_function("regexp", 2, _regexp)

    async with loopsafe.open(path, readers=3, setup=setup) as db:
        assert sorted(seen) == [
            "loopsafe-reader-0",
            "loopsafe-reader-1",
            "loopsafe-reader-2",
            "loopsafe-writer",
        ]
        await db.execute("CREATE TABLE t (v TEXT)")
        await db.execute("INSERT INTO t SELECT 'x' WHERE 'abc' REGEXP 'b'")  # the writer
        reads = [db.fetchval("SELECT count(*) FROM t WHERE v REGEXP '^x$'") for _ in range(50)]
        assert await asyncio.gather(*reads) == [1] * 50  # whichever reader served them


async def test_setup_may_attach_a_database_for_the_readers_too(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE kv (k TEXT)")
        conn.execute("INSERT INTO kv VALUES ('there')")
    conn.close()

    def setup(conn: sqlite3.Connection) -> None:
        conn.execute("ATTACH DATABASE ? AS other", (str(other),))

    async with loopsafe.open(tmp_path / "main.db", setup=setup) as db:
        assert await db.fetchval("SELECT k FROM other.kv") == "there"
        assert await db.fetchval("SELECT k FROM other.kv", lane="write") == "there"


async def test_a_failing_setup_fails_open_and_leaves_no_thread(path: Path) -> None:
    before = _engine_threads()

    def setup(conn: sqlite3.Connection) -> None:
        raise RuntimeError("no")

    with pytest.raises(loopsafe.SetupError) as caught:
        await loopsafe.open(path, setup=setup)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert _engine_threads() == before


async def test_setup_must_be_callable(path: Path) -> None:
    with pytest.raises(loopsafe.ArgumentError):
        loopsafe.open(path, setup="PRAGMA x")  # type: ignore[arg-type]


async def test_configure_reaches_every_connection(path: Path) -> None:
    async with loopsafe.open(path, readers=3) as db:
        await db.execute("CREATE TABLE t (v INTEGER)")
        await db.configure(lambda conn: conn.create_function("twice", 1, lambda x: 2 * x))
        reads = [db.fetchval("SELECT twice(?)", (n,)) for n in range(100)]
        assert await asyncio.gather(*reads) == [2 * n for n in range(100)]
        await db.execute("INSERT INTO t VALUES (twice(4))")
        assert await db.fetchval("SELECT v FROM t") == 8


async def test_configure_raises_what_failed_on_the_writer_and_keeps_nothing(
    path: Path,
) -> None:
    async with loopsafe.open(path) as db:
        with pytest.raises(loopsafe.SQLError):
            await db.configure(lambda conn: conn.execute("SELECT * FROM missing"))
        assert await db.fetchval("SELECT 1") == 1  # no reader runs it later


async def test_configure_inside_a_handle_that_holds_the_writer_runs_there(
    path: Path,
) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (v)")
        txn = await db.begin()
        await txn.execute("INSERT INTO t VALUES (1)")
        await asyncio.wait_for(txn.configure(lambda c: c.create_function("one", 0, lambda: 1)), 10)
        await txn.execute("INSERT INTO t VALUES (one())")
        await txn.commit()
        assert await db.fetchval("SELECT sum(v) FROM t") == 2
