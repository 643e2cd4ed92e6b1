"""Closed-loop drive: N tasks await one operation in a loop for a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def drive(op: Callable[[int], Awaitable[object]], tasks: int, seconds: float) -> float:
    """Operations per second over ``seconds`` with ``tasks`` tasks each awaiting ``op(i)``."""
    stop = False
    counts = [0] * tasks

    async def worker(index: int) -> None:
        i = index * 7919
        while not stop:
            await op(i)
            counts[index] += 1
            i += 1

    started = time.perf_counter()
    workers = [asyncio.create_task(worker(n)) for n in range(tasks)]
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*workers)
    return sum(counts) / (time.perf_counter() - started)
