"""loopsafe.compat.aiosqlite: sqlite3's transaction rules and errors on a shared Database."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import loopsafe
import loopsafe.compat.aiosqlite as aiosqlite

SPIN = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@pytest.fixture
async def path(tmp_path: Path) -> Path:
    target = tmp_path / "app.db"
    async with aiosqlite.connect(target) as conn:
        await conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    return target


async def count(path: Path) -> int:
    async with aiosqlite.connect(path) as conn:
        rows = await conn.execute_fetchall("SELECT count(*) FROM t")
        return int(rows[0][0])


async def test_connections_to_one_file_share_one_database(path: Path) -> None:
    async with aiosqlite.connect(path) as first, aiosqlite.connect(str(path)) as second:
        assert first.database is second.database


async def test_a_write_opens_the_implicit_transaction_and_commit_ends_it(path: Path) -> None:
    async with aiosqlite.connect(path) as conn:
        await conn.execute("SELECT * FROM t")
        assert not conn.in_transaction  # a read opens none, as in sqlite3
        cursor = await conn.execute("INSERT INTO t (v) VALUES ('a')")
        assert (cursor.rowcount, cursor.lastrowid) == (1, 1)
        assert conn.in_transaction
        assert conn.transaction is not None
        assert conn.transaction.writing
        assert await count(path) == 0  # other connections don't see it yet
        await conn.commit()
        assert not conn.in_transaction
        assert await count(path) == 1


async def test_close_rolls_back_what_is_open(path: Path) -> None:
    conn = await aiosqlite.connect(path)
    await conn.execute("INSERT INTO t (v) VALUES ('a')")
    await conn.close()
    assert await count(path) == 0


async def test_autocommit_writes_commit_at_once(path: Path) -> None:
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("INSERT INTO t (v) VALUES ('a')")
        assert not conn.in_transaction
        assert await count(path) == 1


async def test_a_session_that_only_reads_never_holds_the_writer(path: Path) -> None:
    async with aiosqlite.connect(path) as reader, aiosqlite.connect(path) as writer:
        await reader.execute("BEGIN")
        await reader.execute_fetchall("SELECT * FROM t")
        assert reader.in_transaction
        await asyncio.wait_for(writer.execute("INSERT INTO t (v) VALUES ('w')"), 10)
        await asyncio.wait_for(writer.commit(), 10)
        await reader.commit()
    assert await count(path) == 1


async def test_transaction_statements_as_sql(path: Path) -> None:
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("BEGIN IMMEDIATE")
        assert conn.in_transaction
        assert conn.transaction is not None
        assert conn.transaction.writing  # IMMEDIATE: the writer now
        await conn.execute("INSERT INTO t (v) VALUES ('a')")
        await conn.execute("SAVEPOINT sp")
        await conn.execute("INSERT INTO t (v) VALUES ('b')")
        await conn.execute("ROLLBACK TO SAVEPOINT sp")
        await conn.execute("RELEASE SAVEPOINT sp")
        await conn.execute("COMMIT")
        assert not conn.in_transaction
        assert await conn.execute_fetchall("SELECT v FROM t") == [("a",)]
        with pytest.raises(sqlite3.OperationalError, match="no transaction is active"):
            await conn.execute("COMMIT")


async def test_a_savepoint_outside_a_transaction_opens_one_its_release_commits(
    path: Path,
) -> None:
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("SAVEPOINT outer_sp")
        assert conn.in_transaction
        await conn.execute("INSERT INTO t (v) VALUES ('a')")
        await conn.execute("RELEASE outer_sp")
        assert not conn.in_transaction
    assert await count(path) == 1


async def test_calls_that_need_no_thread_are_answered_without_one(path: Path) -> None:
    conn = await aiosqlite.connect(path)
    try:
        cursor = await conn.execute("SELECT 1, 2")
        # The Database is gone: anything that needed a thread would now fail.
        await conn.database.close()
        assert await cursor.fetchall() == [(1, 2)]
        assert await (await conn.cursor()).fetchone() is None
        await conn.commit()  # nothing open
        await conn.rollback()
        with pytest.raises(sqlite3.ProgrammingError):
            await conn.execute("SELECT 1")
    finally:
        await conn.close()


async def test_errors_are_sqlite3_classes(path: Path) -> None:
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("INSERT INTO t (v) VALUES ('a')")
        with pytest.raises(sqlite3.IntegrityError) as integrity:
            await conn.execute("INSERT INTO t (v) VALUES ('a')")
        assert integrity.value.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE"
        assert isinstance(integrity.value.__cause__, loopsafe.IntegrityError)
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await conn.execute("SELECT * FROM missing")
        with pytest.raises(sqlite3.ProgrammingError):
            await conn.execute("SELECT ?", (1, 2))
    # A loopsafe deadline (here the Database's default timeout) is sqlite3's "interrupted".
    async with aiosqlite.connect(path, options={"timeout": 0.05}) as hurried:
        with pytest.raises(sqlite3.OperationalError, match="interrupted") as late:
            await hurried.execute(SPIN)
        assert isinstance(late.value.__cause__, loopsafe.DeadlineError)
    with pytest.raises(aiosqlite.ClosedConnectionError, match="Connection closed"):
        await conn.execute("SELECT 1")
    assert issubclass(aiosqlite.ClosedConnectionError, ValueError)


async def test_create_function_reaches_every_connection_of_the_database(path: Path) -> None:
    async with aiosqlite.connect(path) as first, aiosqlite.connect(path) as second:
        await first.create_function("twice", 1, lambda x: 2 * x, deterministic=True)
        reads = [second.execute_fetchall("SELECT twice(?)", (n,)) for n in range(50)]
        assert await asyncio.gather(*reads) == [[(2 * n,)] for n in range(50)]


async def test_row_and_text_factories_per_connection(path: Path) -> None:
    async with aiosqlite.connect(path) as conn, aiosqlite.connect(path) as plain:
        await conn.execute("INSERT INTO t (v) VALUES ('a')")
        await conn.commit()
        conn.row_factory = aiosqlite.Row
        conn.text_factory = bytes
        row = await (await conn.execute("SELECT v FROM t")).fetchone()
        assert row["v"] == b"a"
        assert await plain.execute_fetchall("SELECT v FROM t") == [("a",)]


async def test_total_changes_counts_this_connections_rows(path: Path) -> None:
    async with aiosqlite.connect(path) as conn, aiosqlite.connect(path) as other:
        await conn.executemany("INSERT INTO t (v) VALUES (?)", [("a",), ("b",)])
        await conn.commit()
        await other.execute("UPDATE t SET v = v || '!'")
        await other.commit()
        assert (conn.total_changes, other.total_changes) == (2, 2)


async def test_memory_is_private_to_its_connection() -> None:
    async with aiosqlite.connect(":memory:") as first, aiosqlite.connect(":memory:") as second:
        await first.execute("CREATE TABLE here (v)")
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await second.execute("SELECT * FROM here")


async def test_options_reach_the_shared_database(path: Path) -> None:
    async with aiosqlite.connect(path, options={"durability": "full"}) as conn:
        assert conn.database.options.durability == "full"
    with pytest.raises(sqlite3.NotSupportedError):
        aiosqlite.connect(path, detect_types=sqlite3.PARSE_DECLTYPES)


async def test_setting_isolation_level_none_with_a_transaction_open(path: Path) -> None:
    async with aiosqlite.connect(path) as conn:
        await conn.execute("INSERT INTO t (v) VALUES ('a')")
        with pytest.raises(sqlite3.OperationalError):
            conn.isolation_level = None
        await conn.set_isolation_level(None)  # commits, as sqlite3's attribute does
        assert conn.isolation_level is None
        assert not conn.in_transaction
    assert await count(path) == 1


async def test_a_cancelled_session_is_rolled_back_and_usable_after_rollback(path: Path) -> None:
    async with aiosqlite.connect(path) as conn:
        await conn.execute("INSERT INTO t (v) VALUES ('a')")
        task = asyncio.create_task(conn.execute_fetchall(SPIN))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(sqlite3.OperationalError):
            await conn.execute("INSERT INTO t (v) VALUES ('b')")
        await conn.rollback()
        await conn.execute("INSERT INTO t (v) VALUES ('c')")
        await conn.commit()
        assert await conn.execute_fetchall("SELECT v FROM t") == [("c",)]
