"""Clean: blocking sqlite3 work in sync code that no async def calls."""

import asyncio
import sqlite3

from shop.db import insert, query


def migrate(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("create table if not exists users(id integer primary key, name text)")
    insert(conn, "insert into users(name) values ('root')")
    conn.close()


def report() -> int:
    return len(query("select * from users"))


async def migrate_in_thread(path: str) -> int:
    await asyncio.to_thread(migrate, path)
    return await asyncio.to_thread(report)


if __name__ == "__main__":
    migrate("shop.db")
    print(report())
