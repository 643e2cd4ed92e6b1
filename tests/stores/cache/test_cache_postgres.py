"""What only the Cache on PostgreSQL has: UNLOGGED tables, and many hosts writing at once."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from loopsafe import Cache
from loopsafe.errors import StoreError

from ..conftest import Backend

PERSISTENCE = "SELECT relpersistence::text FROM pg_class WHERE oid = $1::regclass"


async def test_unlogged_tables_are_chosen_when_they_are_created(postgres: Backend) -> None:
    async with Cache(postgres.target("u"), unlogged=True) as cache:
        for table in ("loopsafe_cache", "loopsafe_cache_tags", "loopsafe_cache_totals"):
            assert await cache.pool.fetchval(PERSISTENCE, table) == "u"
        await cache.set("k", 1)
    async with Cache(postgres.target("l")) as cache:
        assert await cache.pool.fetchval(PERSISTENCE, "loopsafe_cache") == "p"
    # Opened the other way: a clear error, not a silent change of what a crash keeps.
    with pytest.raises(StoreError, match="UNLOGGED but this Cache asks for LOGGED"):
        await Cache(postgres.target("u")).open()
    with pytest.raises(StoreError, match="LOGGED but this Cache asks for UNLOGGED"):
        await Cache(postgres.target("l"), unlogged=True).open()
    async with Cache(postgres.target("u"), unlogged=True) as cache:
        assert await cache.get("k") == 1


def test_unlogged_is_refused_for_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        Cache(tmp_path / "c.db", unlogged=True)


async def test_hosts_writing_at_once_keep_the_bound_and_exact_totals(postgres: Backend) -> None:
    target = postgres.target() + "&pool_size=4"
    async with Cache(target, max_entries=50) as a, Cache(target, max_entries=50) as b:
        await asyncio.gather(
            *(c.set(f"{name}{i}", "x" * i) for i in range(150) for name, c in (("a", a), ("b", b)))
        )
        await a.sweep()  # a pass: folds every host's deltas into the totals
        row = await a.pool.fetchrow("SELECT count(*), coalesce(sum(size), 0) FROM loopsafe_cache")
        assert row is not None
        count, size = row
        assert count == 50  # exactly: two hosts never evict the same surplus twice
        assert (a.stats().entries, a.stats().bytes) == (count, size)
        assert a.stats().evictions + b.stats().evictions == 300 - count


async def test_tagged_batches_over_the_same_keys_queue_instead_of_deadlocking(
    postgres: Backend,
) -> None:
    target = postgres.target() + "&pool_size=8"
    keys = [f"k{i}" for i in range(40)]
    rng = random.Random(7)

    async def batches(cache: Cache) -> None:
        for _ in range(15):
            shuffled = rng.sample(keys, len(keys))
            await cache.set_many({k: k for k in shuffled}, tags=("t",))

    async with Cache(target) as a, Cache(target) as b:
        await asyncio.gather(*(batches(c) for c in (a, b, a, b, a, b)))
        assert await a.get_many(keys) == {k: k for k in keys}
        assert await a.invalidate_tags("t") == len(keys)
