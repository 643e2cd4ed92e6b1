"""A ``:memory:`` Database ATTACHes files as sqlite3 does: on disk, not in memory."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import loopsafe


def _file_with_a_row(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE kv (k TEXT)")
        conn.execute("INSERT INTO kv VALUES ('there')")
    conn.close()


def _rows_on_disk(path: Path) -> list[tuple[str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT k FROM kv ORDER BY k").fetchall()
    finally:
        conn.close()


async def test_setup_attach_on_memory_opens_the_file(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    _file_with_a_row(other)

    def setup(conn: sqlite3.Connection) -> None:
        conn.execute("ATTACH DATABASE ? AS other", (str(other),))

    async with loopsafe.open(":memory:", setup=setup) as db:
        assert await db.fetchval("SELECT k FROM other.kv") == "there"
        await db.execute("INSERT INTO other.kv VALUES ('written')")
    assert _rows_on_disk(other) == [("there",), ("written",)]


async def test_attach_statement_on_memory_creates_the_file(tmp_path: Path) -> None:
    other = tmp_path / "new.db"
    async with loopsafe.open(":memory:") as db:
        await db.execute("ATTACH DATABASE ? AS other", (str(other),))
        await db.execute("CREATE TABLE other.kv (k TEXT)")
        await db.execute("INSERT INTO other.kv VALUES ('kept')")
    assert _rows_on_disk(other) == [("kept",)]
