"""A store's calls queue for the engine rather than being refused by its queue budget."""

from __future__ import annotations

import asyncio
from pathlib import Path

import loopsafe
from loopsafe.stores import Cache, Flags


async def test_a_burst_of_sets_is_served_whatever_the_queue_budget(tmp_path: Path) -> None:
    # A budget no queue can meet: without wait=True, every call that found a queue
    # would be refused with OverloadedError.
    async with loopsafe.open(tmp_path / "c.db", queue_budget=1e-9) as db, Cache(db) as cache:
        for _ in range(3):
            await asyncio.gather(*(cache.set(f"k{i}", i) for i in range(64)))
            got = await asyncio.gather(*(cache.get(f"k{i}") for i in range(64)))
            assert got == list(range(64))


async def test_a_burst_of_flag_changes_is_served_whatever_the_queue_budget(
    tmp_path: Path,
) -> None:
    async with loopsafe.open(tmp_path / "f.db", queue_budget=1e-9) as db, Flags(db) as flags:
        await asyncio.gather(*(flags.set(f"f{i}", enabled=True) for i in range(32)))
        assert all(flags.is_enabled(f"f{i}") for i in range(32))
