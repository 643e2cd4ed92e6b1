"""db.query(): rows, description, rowcount and lastrowid of one statement in one Result."""

from __future__ import annotations

import sqlite3

import pytest

import loopsafe


async def test_a_select_returns_rows_and_description(db: loopsafe.Database) -> None:
    await db.execute("INSERT INTO items (name, n) VALUES ('a', 1)")
    result = await db.query("SELECT id, name FROM items")
    assert result.rows == [(1, "a")]
    assert [column[0] for column in result.description or ()] == ["id", "name"]
    assert len((result.description or ())[0]) == 7  # sqlite3's shape
    assert (result.rowcount, result.lastrowid) == (-1, None)


async def test_insert_returning_reports_its_rows_rowcount_and_lastrowid(
    db: loopsafe.Database,
) -> None:
    result = await db.query(
        "INSERT INTO items (name) VALUES (?), (?) RETURNING id, name", ("a", "b")
    )
    assert result.rows == [(1, "a"), (2, "b")]
    assert result.rowcount == 2
    assert result.lastrowid == 2
    assert await db.fetchval("SELECT count(*) FROM items") == 2  # committed


async def test_a_write_without_result_has_counts_and_no_description(
    db: loopsafe.Database,
) -> None:
    await db.execute("INSERT INTO items (name) VALUES ('a'), ('b')")
    result = await db.query("UPDATE items SET n = 5")
    assert (result.rows, result.description, result.rowcount) == ([], None, 2)
    assert result.lastrowid is None  # an UPDATE inserts nothing


async def test_an_ignored_insert_reports_no_rowid_left_over_from_before(
    db: loopsafe.Database,
) -> None:
    await db.query("INSERT INTO items (name) VALUES ('a')")
    ignored = await db.query("INSERT OR IGNORE INTO items (name) VALUES ('a')")
    assert (ignored.rowcount, ignored.lastrowid) == (0, None)


async def test_row_and_text_factories_apply_to_that_call_only(db: loopsafe.Database) -> None:
    await db.execute("INSERT INTO items (name) VALUES ('a')")
    shaped = await db.query(
        "SELECT id, name FROM items", row_factory=sqlite3.Row, text_factory=bytes
    )
    row = shaped.rows[0]
    assert isinstance(row, sqlite3.Row)
    assert row["name"] == b"a"
    plain = await db.query("SELECT id, name FROM items")
    assert plain.rows == [(1, "a")]


async def test_query_inside_a_transaction_sees_the_blocks_writes(db: loopsafe.Database) -> None:
    async with db.transaction():
        await db.execute("INSERT INTO items (name) VALUES ('a')")
        inside = await db.query("SELECT name FROM items")
        assert inside.rows == [("a",)]


async def test_a_pragma_runs_outside_any_transaction(db: loopsafe.Database) -> None:
    result = await db.query("PRAGMA table_info(items)")
    assert [row[1] for row in result.rows] == ["id", "name", "n"]


async def test_transaction_statements_are_refused(db: loopsafe.Database) -> None:
    with pytest.raises(loopsafe.TransactionError):
        await db.query("BEGIN")


async def test_a_failing_statement_raises_its_error(db: loopsafe.Database) -> None:
    await db.query("INSERT INTO items (name) VALUES ('a')")
    with pytest.raises(loopsafe.IntegrityError):
        await db.query("INSERT INTO items (name) VALUES ('a') RETURNING id")
