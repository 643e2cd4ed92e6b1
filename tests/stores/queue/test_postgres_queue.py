"""What only the queue on PostgreSQL has: enqueue on the caller's connection, wake-ups
from other processes by NOTIFY. (Everything else runs on both backends in the other
queue tests.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from loopsafe import Queue

from ..conftest import Backend

NEVER = 3600.0  # a poll interval no test waits out: only a wake-up can move the worker


def make(target: str, poll_interval: float = 1.0) -> Queue:
    queue = Queue(target, poll_interval=poll_interval)

    @queue.task
    async def double(n: int) -> int:
        return n * 2

    return queue


async def test_enqueue_on_the_callers_connection_exists_iff_it_commits(
    postgres: Backend,
) -> None:
    conn = await postgres.connect("jobs")
    try:
        async with make(postgres.target("jobs")) as queue:
            await conn.execute("CREATE TABLE orders (id integer PRIMARY KEY)")
            async with conn.transaction():
                await conn.execute("INSERT INTO orders (id) VALUES (1)")
                kept = await queue.enqueue("double", {"n": 1}, connection=conn)
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await conn.execute("INSERT INTO orders (id) VALUES (2)")
                    lost = await queue.enqueue("double", {"n": 2}, connection=conn)
                    more = [queue.job("double", {"n": 3})]
                    await queue.enqueue_many(more, connection=conn)
                    raise RuntimeError("the caller's work failed")
            assert await queue.get(kept) is not None
            assert await queue.get(lost) is None
            assert (await queue.refresh_stats()).count("queued") == 1
            assert await conn.fetchval("SELECT count(*) FROM orders") == 1
    finally:
        await conn.close()


async def test_connection_is_refused_on_sqlite(tmp_path: Path) -> None:
    async with make(str(tmp_path / "jobs.db")) as queue:
        with pytest.raises(TypeError, match="PostgreSQL"):
            await queue.enqueue("double", {"n": 1}, connection=object())
        assert (await queue.refresh_stats()).count("queued") == 0


async def test_an_enqueue_in_another_process_wakes_an_idle_worker_at_once(
    postgres: Backend,
) -> None:
    target = postgres.target("jobs")
    worker_side, producer = make(target, poll_interval=NEVER), make(target)
    async with worker_side, producer, worker_side.worker():
        # The worker polls once an hour and the producer is another Queue with its own
        # pool: only the NOTIFY sent at the producer's commit can wake it.
        ids = [await producer.enqueue("double", {"n": n}) for n in range(3)]
        assert [await producer.result(i, timeout=30) for i in ids] == [0, 2, 4]
