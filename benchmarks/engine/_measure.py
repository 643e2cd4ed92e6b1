"""Drive one contender with N tasks for a fixed time, with a loop-lag heartbeat beside it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from benchmarks.engine._cases import Op

HEARTBEAT = 0.002  # seconds between heartbeats


@dataclass(frozen=True)
class Result:
    ops: int
    seconds: float
    errors: int
    lag_p99_ms: float
    lag_max_ms: float

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


async def drive(op: Op, tasks: int, seconds: float) -> Result:
    """Each task awaits ``op`` in a loop until time is up (closed-loop, like a worker pool)."""
    lags: list[float] = []
    stop = False

    async def heartbeat() -> None:
        while not stop:
            before = time.perf_counter()
            await asyncio.sleep(HEARTBEAT)
            lags.append(max(0.0, time.perf_counter() - before - HEARTBEAT))

    counts = [0] * tasks
    errors = [0] * tasks

    async def worker(index: int) -> None:
        i = index * 7919
        while not stop:
            try:
                await op(i)
            except Exception:
                errors[index] += 1
            counts[index] += 1
            i += 1

    beat = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    workers = [asyncio.create_task(worker(n)) for n in range(tasks)]
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started
    await beat
    lags.sort()
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else 0.0
    return Result(
        ops=sum(counts) - sum(errors),
        seconds=elapsed,
        errors=sum(errors),
        lag_p99_ms=p99 * 1000,
        lag_max_ms=(lags[-1] if lags else 0.0) * 1000,
    )


async def future_round_trips(tasks: int, seconds: float) -> float:
    """asyncio's own ceiling: futures created, resolved by a loop callback and awaited, by
    ``tasks`` tasks at once, per second (what any bridge that answers a future per call
    can at best reach on this loop)."""
    loop = asyncio.get_running_loop()
    stop = False
    count = 0

    async def worker() -> None:
        nonlocal count
        while not stop:
            fut = loop.create_future()
            loop.call_soon(fut.set_result, None)
            await fut
            count += 1

    started = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(tasks)]
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*workers)
    return count / (time.perf_counter() - started)


async def idle_lag(seconds: float) -> Result:
    """The loop's lag with nothing to do: the machine's own noise, to subtract."""

    async def nothing(i: int) -> None:
        await asyncio.sleep(seconds)

    return await drive(nothing, 0, seconds)
