"""The contenders: the same point read and one-row write, done each way users do them."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import loopsafe

ROWS = 20_000
READ_SQL = "SELECT id, v FROM t WHERE id = ?"
WRITE_SQL = "INSERT INTO w (v) VALUES (?)"
PAYLOAD = "x" * 64

Op = Callable[[int], Awaitable[Any]]


def create_file(path: Path, durability: str) -> None:
    """A fresh file: 20k rows to read by primary key, an empty table to append to."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.execute("CREATE TABLE w (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", ((i, PAYLOAD) for i in range(1, ROWS + 1)))
    conn.commit()
    conn.close()


def _connect(path: Path, durability: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute(f"PRAGMA synchronous = {durability}")
    return conn


def raw_limit(
    path: Path, durability: str, kind: str, seconds: float, per_transaction: int = 1
) -> tuple[int, float]:
    """Synchronous sqlite3 in one thread: what the hardware and SQLite allow.

    Writes commit every ``per_transaction`` rows (1: autocommit, one transaction per row).
    """
    import time

    conn = _connect(path, durability)
    ops, started = 0, time.perf_counter()
    end = started + seconds
    try:
        while time.perf_counter() < end:
            if kind == "read":
                for _ in range(256):
                    conn.execute(READ_SQL, (ops % ROWS + 1,)).fetchone()
                    ops += 1
            elif per_transaction == 1:
                for _ in range(256):
                    conn.execute(WRITE_SQL, (PAYLOAD,))  # autocommit: one transaction per row
                    ops += 1
            else:
                conn.execute("BEGIN IMMEDIATE")
                for _ in range(per_transaction):
                    conn.execute(WRITE_SQL, (PAYLOAD,))
                conn.execute("COMMIT")
                ops += per_transaction
        return ops, time.perf_counter() - started
    finally:
        conn.close()


@dataclass
class Contender:
    """An async way to run the benchmark's statement, set up inside ``stack``."""

    name: str
    setup: Callable[[AsyncExitStack, Path, str, str], Awaitable[Op]]
    kinds: tuple[str, ...] = ("read", "write")


async def _loopsafe(
    stack: AsyncExitStack, path: Path, durability: str, kind: str, **options: Any
) -> Op:
    db = await stack.enter_async_context(
        loopsafe.open(path, durability="full" if durability == "FULL" else "normal", **options)
    )
    if kind == "read":
        return lambda i: db.fetchone(READ_SQL, (i % ROWS + 1,), wait=True)
    return lambda i: db.execute(WRITE_SQL, (PAYLOAD,), wait=True)


async def _loopsafe_no_inline(stack: AsyncExitStack, path: Path, durability: str, kind: str) -> Op:
    return await _loopsafe(stack, path, durability, kind, inline=False)  # labelled variant


async def _aiosqlite_conn(stack: AsyncExitStack, path: Path, durability: str) -> Any:
    import aiosqlite

    # isolation_level=None (autocommit) is aiosqlite's fastest one-row write: one hop.
    conn = await stack.enter_async_context(aiosqlite.connect(path, isolation_level=None))
    await conn.execute(f"PRAGMA synchronous = {durability}")
    return conn


async def _aiosqlite(stack: AsyncExitStack, path: Path, durability: str, kind: str) -> Op:
    conn = await _aiosqlite_conn(stack, path, durability)
    if kind == "write":
        return lambda i: conn.execute(WRITE_SQL, (PAYLOAD,))

    async def read(i: int) -> Any:
        # The idiom aiosqlite documents: a cursor, then fetch (three hops to its thread).
        async with conn.execute(READ_SQL, (i % ROWS + 1,)) as cursor:
            return await cursor.fetchone()

    return read


async def _aiosqlite_fetchall(stack: AsyncExitStack, path: Path, durability: str, kind: str) -> Op:
    conn = await _aiosqlite_conn(stack, path, durability)
    return lambda i: conn.execute_fetchall(READ_SQL, (i % ROWS + 1,))  # one hop: its fastest read


async def _executor_local(stack: AsyncExitStack, path: Path, durability: str, kind: str) -> Op:
    local = threading.local()
    opened: list[sqlite3.Connection] = []

    def conn() -> sqlite3.Connection:
        c: sqlite3.Connection | None = getattr(local, "conn", None)
        if c is None:
            c = local.conn = _connect(path, durability)
            opened.append(c)
        return c

    def read(i: int) -> Any:
        return conn().execute(READ_SQL, (i % ROWS + 1,)).fetchone()

    def write(i: int) -> Any:
        return conn().execute(WRITE_SQL, (PAYLOAD,)).lastrowid

    stack.callback(_close_all, opened)
    loop = asyncio.get_running_loop()
    fn = read if kind == "read" else write
    return lambda i: loop.run_in_executor(None, fn, i)


def _close_all(conns: list[sqlite3.Connection]) -> None:
    for conn in conns:
        conn.close()


async def _executor_connect(stack: AsyncExitStack, path: Path, durability: str, kind: str) -> Op:
    def read(i: int) -> Any:
        conn = _connect(path, durability)
        try:
            return conn.execute(READ_SQL, (i % ROWS + 1,)).fetchone()
        finally:
            conn.close()

    def write(i: int) -> Any:
        conn = _connect(path, durability)
        try:
            return conn.execute(WRITE_SQL, (PAYLOAD,)).lastrowid
        finally:
            conn.close()

    loop = asyncio.get_running_loop()
    fn = read if kind == "read" else write
    return lambda i: loop.run_in_executor(None, fn, i)


CONTENDERS = [
    Contender("aiosqlite", _aiosqlite),
    Contender("aiosqlite execute_fetchall", _aiosqlite_fetchall, kinds=("read",)),
    Contender("executor+thread-local", _executor_local),
    Contender("executor+connect-per-call", _executor_connect),
    Contender("loopsafe", _loopsafe),
    Contender("loopsafe inline=False", _loopsafe_no_inline, kinds=("read",)),
]
