"""Point reads of many tasks answered by one query.

While a read is on its way to the Database, the gets that arrive meanwhile wait together;
when a read comes back, everything waiting goes in one query (``key IN (...)``). So a lone
get is never delayed for company, and 64 concurrent gets cost one hop to a reader thread
instead of 64 — the same rule as the engine's group commit, on the read side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from loopsafe.stores.cache._backend import Row

__all__ = ["ReadBatcher"]

MAX_BATCH = 256  # keys per query


class ReadBatcher:
    """Coalesces ``get`` calls for one namespace. ``fetch_one`` and ``fetch_many`` are
    the backend's reads; at most ``inflight`` queries are out at a time."""

    def __init__(
        self,
        fetch_one: Callable[[str], Awaitable[Row | None]],
        fetch_many: Callable[[Sequence[str]], Awaitable[dict[str, Row]]],
        inflight: int = 2,
    ) -> None:
        self._fetch_one = fetch_one
        self._fetch_many = fetch_many
        self._limit = inflight
        self._inflight = 0
        self._waiting: dict[str, list[asyncio.Future[Row | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def get(self, key: str) -> Row | None:
        if self._inflight < self._limit and not self._waiting:
            self._inflight += 1
            try:
                return await self._fetch_one(key)
            finally:
                self._done()
        fut: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(fut)
        return await fut

    def _done(self) -> None:
        self._inflight -= 1
        if self._waiting and self._inflight < self._limit:
            self._inflight += 1
            batch = self._take()
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> dict[str, list[asyncio.Future[Row | None]]]:
        if len(self._waiting) <= MAX_BATCH:
            batch, self._waiting = self._waiting, {}
            return batch
        keys = list(self._waiting)[:MAX_BATCH]
        return {key: self._waiting.pop(key) for key in keys}

    async def _run(self, batch: dict[str, list[asyncio.Future[Row | None]]]) -> None:
        try:
            rows = await self._fetch_many(list(batch))
        except BaseException as exc:
            for futures in batch.values():
                for fut in futures:
                    if not fut.done():
                        if isinstance(exc, asyncio.CancelledError):
                            fut.cancel()
                        else:
                            fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for key, futures in batch.items():
                row = rows.get(key)
                for fut in futures:
                    if not fut.done():  # a cancelled caller is simply left out
                        fut.set_result(row)
        finally:
            self._done()
