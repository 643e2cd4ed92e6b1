"""Stores built on sqlite3 connections kept as attributes and globals."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

CONN = sqlite3.connect(":memory:", check_same_thread=False)


class BaseStore:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path)

    def _rows(self, sql: str) -> list[object]:
        return self.conn.execute(sql).fetchall()


class UserStore(BaseStore):
    def by_id(self, uid: int) -> list[object]:
        return self._rows(f"select * from users where id = {uid}")

    @property
    def size(self) -> int:
        return int(self.conn.execute("select count(*) from users").fetchone()[0])


@contextmanager
def transaction(path: str) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def get_connection() -> sqlite3.Connection:
    return CONN
