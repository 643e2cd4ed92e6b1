"""Store.on_close: what lives beside a store is closed with it, on either backend."""

from __future__ import annotations

import asyncio

import pytest

from loopsafe import ClosedError, Queue

from .conftest import Backend


async def test_callbacks_run_at_close_after_the_workers_and_before_the_storage(
    backend: Backend,
) -> None:
    queue = Queue(backend.target("q"))
    seen: list[str] = []

    async def first() -> None:
        seen.append(f"first, {len(queue._workers())} workers")
        await queue.ping()  # the storage is still open for it

    async def second() -> None:
        seen.append("second")

    queue.on_close(first)
    queue.on_close(second)
    async with queue, queue.worker(concurrency=1):
        await asyncio.sleep(0)
    # Leaving the worker stopped it; the queue then closed: the last registered first.
    assert seen == ["second", "first, 0 workers"]
    await queue.close()
    assert seen == ["second", "first, 0 workers"]  # once


async def test_a_failing_callback_keeps_neither_the_others_nor_the_storage_open(
    backend: Backend,
) -> None:
    queue = await Queue(backend.target("q")).open()
    ran: list[str] = []

    async def fails() -> None:
        ran.append("fails")
        raise RuntimeError("boom")

    async def records() -> None:
        ran.append("records")

    queue.on_close(records)
    queue.on_close(fails)
    with pytest.raises(RuntimeError, match="boom"):
        await queue.close()
    assert ran == ["fails", "records"]
    assert not queue.is_open
    with pytest.raises(ClosedError):
        await queue.ping()


async def test_a_store_never_opened_still_runs_its_callbacks_and_refuses_new_ones(
    backend: Backend,
) -> None:
    queue = Queue(backend.target("q"))
    ran: list[str] = []

    async def record() -> None:
        ran.append("ran")

    queue.on_close(record)
    await queue.close()
    assert ran == ["ran"]
    with pytest.raises(ClosedError, match="closed"):
        queue.on_close(record)
