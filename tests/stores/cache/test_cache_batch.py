"""Gets that arrive while a read is out go together in one query."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from loopsafe.stores.cache import Row
from loopsafe.stores.cache._batch import ReadBatcher


class FakeReads:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.one: list[str] = []
        self.many: list[list[str]] = []
        self.fail: Exception | None = None

    def row(self, key: str) -> Row:
        return Row(0, key.encode(), None, None)

    async def fetch_one(self, key: str) -> Row | None:
        self.one.append(key)
        await self.release.wait()
        return self.row(key)

    async def fetch_many(self, keys: Sequence[str]) -> dict[str, Row]:
        self.many.append(list(keys))
        if self.fail is not None:
            raise self.fail
        return {k: self.row(k) for k in keys if k != "missing"}


async def test_a_lone_get_goes_at_once_and_the_rest_wait_together() -> None:
    reads = FakeReads()
    batcher = ReadBatcher(reads.fetch_one, reads.fetch_many, inflight=1)
    first = asyncio.ensure_future(batcher.get("a"))
    await asyncio.sleep(0)
    assert reads.one == ["a"]
    rest = [asyncio.ensure_future(batcher.get(k)) for k in ["b", "c", "b", "missing"]]
    await asyncio.sleep(0)
    assert reads.many == []  # waiting for the read that is out
    reads.release.set()
    assert (await first) == reads.row("a")
    got = await asyncio.gather(*rest)
    assert reads.many == [["b", "c", "missing"]]
    assert [r.data if r else None for r in got] == [b"b", b"c", b"b", None]


async def test_a_failed_batch_fails_each_of_its_callers() -> None:
    reads = FakeReads()
    reads.fail = RuntimeError("disk")
    batcher = ReadBatcher(reads.fetch_one, reads.fetch_many, inflight=1)
    first = asyncio.ensure_future(batcher.get("a"))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(batcher.get(k)) for k in "bc"]
    await asyncio.sleep(0)
    reads.release.set()
    await first
    for call in rest:
        with pytest.raises(RuntimeError, match="disk"):
            await call
    # The batcher is usable afterwards.
    reads.fail = None
    assert (await batcher.get("d")) == reads.row("d")
