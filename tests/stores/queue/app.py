"""A queue for worker processes: ``loopsafe worker tests.stores.queue.app:queue``.

Its file (or PostgreSQL URL) comes from ``LOOPSAFE_TEST_QUEUE``; its lease from
``LOOPSAFE_TEST_LEASE``.
"""

from __future__ import annotations

import asyncio
import os

from loopsafe import Queue
from loopsafe.stores.queue import current_job
from tests.stores.queue.helpers import fetchval

queue = Queue(
    os.environ.get("LOOPSAFE_TEST_QUEUE", "jobs.db"),
    lease=float(os.environ.get("LOOPSAFE_TEST_LEASE", "30")),
    poll_interval=0.05,
)


@queue.task
async def work(n: int, pause: float = 0.0) -> int:
    await asyncio.sleep(pause)
    return n * 2


@queue.task(concurrency_key="shared", concurrency_limit=2)
async def limited(pause: float) -> int:
    """Returns how many jobs with its key were running (in any process) while it ran."""
    seen = 0
    for _ in range(3):
        running = await fetchval(
            queue,
            "SELECT count(*) FROM loopsafe_jobs WHERE state = 'running'"
            " AND concurrency_key = 'shared'",
        )
        seen = max(seen, int(running))
        await asyncio.sleep(pause / 3)
    return seen


@queue.task
async def until_stopped() -> str:
    await current_job().wait_for_stop()
    await asyncio.sleep(3600)  # ignores the stop: the worker's grace period must end it
    return "unreachable"
