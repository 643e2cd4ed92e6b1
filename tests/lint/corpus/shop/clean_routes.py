"""Clean: the same work done without blocking the loop."""

import asyncio
import functools
import sqlite3

import aiosqlite

import loopsafe
from shop import repo, service
from shop.db import query


async def with_loopsafe() -> list[object]:
    db = await loopsafe.open("shop.db")
    await db.execute("insert into users(name) values (?)", ("ann",))
    rows = await db.fetchall("select * from users")
    async with loopsafe.open("shop.db") as other:
        await other.fetchone("select 1")
    return rows


async def with_aiosqlite() -> list[object]:
    async with aiosqlite.connect("shop.db") as conn:
        cur = await conn.execute("select 1")
        rows = list(await cur.fetchall())
        async for row in cur:
            rows.append(row)
        await conn.commit()
    return rows


async def in_threads(uid: int) -> object:
    loop = asyncio.get_running_loop()
    user = await asyncio.to_thread(repo.load_user, uid)
    profile = await loop.run_in_executor(None, service.get_profile, uid)
    rows = await asyncio.to_thread(functools.partial(query, "select 1"))
    more = await loop.run_in_executor(None, lambda: query("select 2"))
    return user, profile, rows, more


async def nested_helper_in_thread() -> list[object]:
    def work() -> list[object]:
        conn = sqlite3.connect("shop.db")
        return conn.execute("select 1").fetchall()

    return await asyncio.to_thread(work)


async def untyped_parameter(conn: object, db: aiosqlite.Connection) -> None:
    await db.execute("select 1")
    await db.commit()
    print(conn)
