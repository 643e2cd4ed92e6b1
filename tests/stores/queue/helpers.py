"""Shared by the queue tests: a settable clock, and the app module worker processes run."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from loopsafe import Queue
from loopsafe.stores.queue import JobState


class Clock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def wait_until(check: Callable[[], Awaitable[bool]], limit: float = 30.0) -> None:
    """Poll ``check`` (a state another component changes) until it holds; fail after
    ``limit`` seconds. Only for states with no event to await, such as another process's."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {limit} s: {check}")
        await asyncio.sleep(0.01)


async def state_of(queue: Queue, job_id: int) -> JobState | None:
    job = await queue.get(job_id)
    return None if job is None else job.state


async def fetch(queue: Queue, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the queue's own storage, SQLite or PostgreSQL; ``?`` placeholders
    become ``$n`` on PostgreSQL."""
    if queue.backend == "postgresql":
        n = 0

        def number(_: object) -> str:
            nonlocal n
            n += 1
            return f"${n}"

        rows = await queue.pool.fetch(re.sub(r"\?", number, sql), *args)
        return [tuple(r) for r in rows]
    return [tuple(r) for r in await queue.database.fetchall(sql, args)]


async def fetchval(queue: Queue, sql: str, *args: object) -> Any:
    rows = await fetch(queue, sql, *args)
    return rows[0][0] if rows else None
