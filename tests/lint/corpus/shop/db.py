"""Sync sqlite3 helpers: every function here blocks."""

import sqlite3
from pathlib import Path

DB_PATH = Path("shop.db")


def connect() -> sqlite3.Connection:
    return sqlite3.connect(DB_PATH)


def query(sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = connect()
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def insert(conn: sqlite3.Connection, sql: str) -> None:
    conn.execute(sql)
    conn.commit()


def count_rows(cur: sqlite3.Cursor) -> int:
    return sum(1 for _ in cur)
