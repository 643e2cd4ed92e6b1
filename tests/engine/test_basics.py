"""The call surface: every method, row shapes, routing, ':memory:'."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import loopsafe


async def test_execute_reports_rowcount_and_lastrowid(db: loopsafe.Database) -> None:
    first = await db.execute("INSERT INTO items (name, n) VALUES (?, ?)", ("a", 1))
    second = await db.execute(
        "INSERT INTO items (name, n) VALUES (:name, :n)", {"name": "b", "n": 2}
    )
    assert first == loopsafe.ExecuteResult(rowcount=1, lastrowid=1)
    assert second.lastrowid == 2
    changed = await db.execute("UPDATE items SET n = n + 10")
    assert changed.rowcount == 2


async def test_fetch_methods_return_tuples_by_default(db: loopsafe.Database) -> None:
    await db.executemany("INSERT INTO items (name, n) VALUES (?, ?)", [("a", 1), ("b", 2)])
    assert await db.fetchone("SELECT name, n FROM items ORDER BY id") == ("a", 1)
    assert await db.fetchone("SELECT name FROM items WHERE id = 99") is None
    assert await db.fetchall("SELECT name, n FROM items ORDER BY id") == [("a", 1), ("b", 2)]
    assert await db.fetchval("SELECT sum(n) FROM items") == 3
    assert await db.fetchval("SELECT n FROM items WHERE id = 99") is None


async def test_executemany_reports_total_rowcount(db: loopsafe.Database) -> None:
    result = await db.executemany(
        "INSERT INTO items (name, n) VALUES (?, ?)", ((f"x{i}", i) for i in range(50))
    )
    assert result.rowcount == 50
    assert await db.fetchval("SELECT count(*) FROM items") == 50


async def test_returning_goes_to_the_writer_and_returns_rows(db: loopsafe.Database) -> None:
    row = await db.fetchone("INSERT INTO items (name, n) VALUES ('r', 7) RETURNING id, n")
    assert row == (1, 7)
    assert await db.fetchval("SELECT n FROM items WHERE name = 'r'") == 7


async def test_with_clause_writes_are_routed_to_the_writer(db: loopsafe.Database) -> None:
    await db.execute("WITH v(x) AS (SELECT 5) INSERT INTO items (name, n) SELECT 'w', x FROM v")
    assert await db.fetchval("WITH q AS (SELECT n FROM items) SELECT max(n) FROM q") == 5


async def test_iterate_streams_every_row_in_order(db: loopsafe.Database) -> None:
    await db.executemany(
        "INSERT INTO items (name, n) VALUES (?, ?)", [(f"i{i}", i) for i in range(1000)]
    )
    seen = [row[0] async for row in db.iterate("SELECT n FROM items ORDER BY n", chunk=64)]
    assert seen == list(range(1000))


async def test_breaking_out_of_iterate_frees_the_reader(path: Path) -> None:
    async with loopsafe.open(path, readers=1) as db:
        await db.execute("CREATE TABLE t (x)")
        await db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5000)])
        rows = db.iterate("SELECT x FROM t", chunk=10)
        async for _ in rows:
            break
        await rows.aclose()  # type: ignore[attr-defined]
        # With one reader, this would wait for the idle timeout if the cursor still held it.
        assert await db.fetchval("SELECT count(*) FROM t", timeout=5) == 5000


async def test_dict_rows(path: Path) -> None:
    async with loopsafe.open(path, rows="dict") as db:
        await db.execute("CREATE TABLE t (a, b)")
        await db.execute("INSERT INTO t VALUES (1, 'x')")
        assert await db.fetchone("SELECT a, b FROM t") == {"a": 1, "b": "x"}
        assert await db.fetchval("SELECT b FROM t") == "x"


async def test_custom_row_factory(path: Path) -> None:
    def factory(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> list[Any]:
        return list(reversed(row))

    async with loopsafe.open(path, rows=factory) as db:
        assert await db.fetchone("SELECT 1, 2, 3") == [3, 2, 1]


async def test_read_and_write_run_callables_on_the_right_connection(db: loopsafe.Database) -> None:
    def insert_two(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO items (name) VALUES ('p')")
        return conn.execute("INSERT INTO items (name) VALUES ('q')").lastrowid or 0

    assert await db.write(insert_two) == 2
    assert await db.read(lambda conn: conn.execute("SELECT count(*) FROM items").fetchone()[0]) == 2
    with pytest.raises(loopsafe.ReadOnlyError):
        await db.read(lambda conn: conn.execute("DELETE FROM items"))


async def test_write_callable_that_raises_rolls_back_all_of_its_statements(
    db: loopsafe.Database,
) -> None:
    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO items (name) VALUES ('half')")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await db.write(half_then_fail)
    assert await db.fetchval("SELECT count(*) FROM items") == 0


async def test_memory_database_is_shared_by_writer_and_readers() -> None:
    async with loopsafe.open(":memory:", readers=2) as db:
        await db.execute("CREATE TABLE t (x)")
        await db.execute("INSERT INTO t VALUES (42)")
        assert await db.fetchval("SELECT x FROM t", lane="read") == 42


async def test_two_memory_databases_are_separate() -> None:
    async with loopsafe.open(":memory:") as a, loopsafe.open(":memory:") as b:
        await a.execute("CREATE TABLE only_in_a (x)")
        assert await b.fetchval("SELECT count(*) FROM sqlite_master") == 0


async def test_defaults_are_applied(path: Path) -> None:
    async with loopsafe.open(path) as db:
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
        assert await db.fetchval("PRAGMA foreign_keys") == 1
        assert await db.fetchval("PRAGMA synchronous") == 1  # NORMAL
        assert await db.fetchval("PRAGMA busy_timeout") == 5000
        assert await db.fetchval("PRAGMA query_only", lane="read") == 1
    async with loopsafe.open(path, durability="full") as db:
        assert await db.fetchval("PRAGMA synchronous") == 2  # FULL


async def test_foreign_keys_are_enforced(db: loopsafe.Database) -> None:
    await db.execute("CREATE TABLE child (item INTEGER REFERENCES items(id))")
    with pytest.raises(loopsafe.IntegrityError):
        await db.execute("INSERT INTO child VALUES (12345)")


async def test_readonly_database_serves_reads_and_refuses_writes(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (x)")
        await db.execute("INSERT INTO t VALUES (1)")
    async with loopsafe.open(path, readonly=True) as db:
        assert await db.fetchval("SELECT x FROM t") == 1
        with pytest.raises(loopsafe.ReadOnlyError):
            await db.execute("INSERT INTO t VALUES (2)")
        with pytest.raises(loopsafe.ReadOnlyError):
            async with db.transaction():
                pass


async def test_vacuum_and_pragmas_run_outside_transactions(db: loopsafe.Database) -> None:
    await db.execute("INSERT INTO items (name) VALUES ('v')")
    await db.execute("VACUUM")
    await db.execute("PRAGMA user_version = 7")
    assert await db.fetchval("PRAGMA user_version") == 7


async def test_stats_report_lanes(db: loopsafe.Database) -> None:
    stats = db.stats()
    assert stats == loopsafe.Stats(
        read_inflight=0, read_limit=1024, write_inflight=0, write_limit=1024
    )
    with pytest.raises(AttributeError):
        stats.read_inflight = 1  # type: ignore[misc]


async def test_executescript_runs_several_statements(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.executescript(
            """
            CREATE TABLE a (x);
            CREATE TABLE b (y);
            BEGIN;
            INSERT INTO a VALUES (1);
            INSERT INTO b VALUES (2);
            COMMIT;
            """
        )
        assert await db.fetchval("SELECT x + (SELECT y FROM b) FROM a") == 3
        with pytest.raises(loopsafe.SQLError):
            await db.executescript("CREATE TABLE c (z); NOT SQL;")
        async with db.transaction():
            with pytest.raises(loopsafe.TransactionError):
                await db.executescript("CREATE TABLE d (w);")
