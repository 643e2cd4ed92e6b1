"""Clean: look-alike names that are not the blocking APIs."""

import asyncio
import sqlite3

import loopsafe
from svc import fake
from svc.fake import Connection, connect, run, sleep


async def lookalikes() -> object:
    conn = Connection()
    conn.execute("select 1").commit()
    rows = conn.fetchall()
    sleep(1)
    fake.sleep(2)
    return connect("x.db"), run(["ls"]), rows


async def attributes_of_unknown(service: object) -> None:
    requests = getattr(service, "requests", None)
    if requests is not None:
        await requests.get("/x")


async def rebinding() -> str:
    conn = connect("x.db")
    conn = {"path": "y"}
    return conn["path"]


async def either(path: str, fast: bool) -> object:
    if fast:
        db = await loopsafe.open(path)
    else:
        db = await asyncio.to_thread(sqlite3.connect, path)
    return await db.execute("select 1")
