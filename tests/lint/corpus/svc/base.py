"""A repository whose connection is declared by a class annotation."""

import sqlite3
from typing import Optional


class Repository:
    conn: sqlite3.Connection
    cursor: Optional[sqlite3.Cursor] = None  # noqa: UP045

    def all(self) -> list[object]:
        return self.conn.execute("select * from items").fetchall()
