"""Nested functions, local imports and walrus: only what runs on the loop counts."""

import asyncio
import sqlite3


async def nested_called_directly() -> list[object]:
    conn = sqlite3.connect("x.db")  # expect: LS101

    def load() -> list[object]:
        return conn.execute("select 1").fetchall()

    return load()  # expect: LS102(1)


async def nested_sent_to_thread() -> list[object]:
    def load() -> list[object]:
        conn = sqlite3.connect("x.db")
        return conn.execute("select 1").fetchall()

    return await asyncio.to_thread(load)


async def local_import() -> None:
    import sqlite3 as lite

    lite.connect("x.db")  # expect: LS101


async def walrus(path: str) -> None:
    if (conn := sqlite3.connect(path)) is not None:  # expect: LS101
        conn.commit()  # expect: LS101


async def opened_in_thread(path: str) -> None:
    conn = await asyncio.to_thread(sqlite3.connect, path)
    conn.execute("vacuum")  # expect: LS101


async def outer() -> None:
    async def inner() -> None:
        sqlite3.connect("x.db")  # expect: LS101

    await inner()
