"""Closed-loop drive: N tasks await one operation in a loop for a fixed time; results out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


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


def write(out: Path, name: str, report: dict[str, Any], markdown: str) -> None:
    """``{name}.json`` and ``{name}.md`` into ``out`` (after the measurements: a few
    small blocking writes)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)
