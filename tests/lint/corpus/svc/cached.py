"""Subclass and annotated parameters: types come from annotations, not assignments."""

import sqlite3
from typing import Optional

from svc.base import Repository


class CachedRepository(Repository):
    async def items(self) -> list[object]:
        return self.all()  # expect: LS102(1)

    async def first(self) -> object:
        row = self.conn.execute("select 1").fetchone()  # expect: LS101
        if self.cursor is not None:
            self.cursor.fetchall()  # expect: LS101
        return row


async def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("select count(*) from t").fetchone()[0])  # expect: LS101


async def maybe(conn: "sqlite3.Connection | None", cur: Optional[sqlite3.Cursor]) -> None:  # noqa: UP045
    if conn is not None:
        conn.rollback()  # expect: LS101
    if cur is not None:
        cur.fetchmany(10)  # expect: LS101
