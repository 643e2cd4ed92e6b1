"""The Cache against a dict model with TTLs, on a fake clock (hypothesis).

Each example runs a random sequence of operations on a real cache file and on the model,
comparing every answer; the clock only moves when the sequence says so.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopsafe import Cache

from ..conftest import Backend
from ._clock import FakeClock

KEYS = st.sampled_from(["a", "b", "c", "d"])
VALUES = st.one_of(
    st.integers(-5, 5),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.integers(0, 3), max_size=3),
    st.none(),
)
TTLS = st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.0, 5.0]))

OPS = st.one_of(
    st.tuples(st.just("set"), KEYS, VALUES, TTLS),
    st.tuples(st.just("get"), KEYS),
    st.tuples(st.just("add"), KEYS, VALUES, TTLS),
    st.tuples(st.just("delete"), KEYS),
    st.tuples(st.just("incr"), KEYS, st.integers(-3, 3)),
    st.tuples(st.just("expire"), KEYS, TTLS),
    st.tuples(st.just("ttl"), KEYS),
    st.tuples(st.just("get_many"), st.lists(KEYS, max_size=4)),
    st.tuples(st.just("set_many"), st.dictionaries(KEYS, VALUES, max_size=3), TTLS),
    st.tuples(st.just("advance"), st.sampled_from([0.25, 0.5, 1.0, 3.0])),
    st.tuples(st.just("sweep")),
    st.tuples(st.just("clear")),
)


@dataclass
class Model:
    clock: FakeClock
    data: dict[str, tuple[Any, float | None]] = field(default_factory=dict)

    def live(self, key: str) -> bool:
        if key not in self.data:
            return False
        expires = self.data[key][1]
        return expires is None or self.clock.now < expires

    def at(self, ttl: float | None) -> float | None:
        return None if ttl is None else self.clock.now + ttl


async def run(ops: list[tuple[Any, ...]], target: str, namespace: str = "default") -> None:
    clock = FakeClock()
    model = Model(clock)
    async with Cache(target, clock=clock, namespace=namespace) as cache:
        for op in ops:
            name = op[0]
            if name == "set":
                _, key, value, ttl = op
                await cache.set(key, value, ttl=ttl)
                model.data[key] = (value, model.at(ttl))
            elif name == "get":
                expect = model.data[op[1]][0] if model.live(op[1]) else "<missing>"
                assert await cache.get(op[1], "<missing>") == expect, op
            elif name == "add":
                _, key, value, ttl = op
                added = not model.live(key)
                if added:
                    model.data[key] = (value, model.at(ttl))
                assert await cache.add(key, value, ttl=ttl) == added, op
            elif name == "delete":
                was = model.live(op[1])
                model.data.pop(op[1], None)
                assert await cache.delete(op[1]) == was, op
            elif name == "incr":
                _, key, delta = op
                current = model.data[key][0] if model.live(key) else None
                if model.live(key) and type(current) is not int:
                    try:
                        await cache.incr(key, delta)
                    except TypeError:
                        continue
                    raise AssertionError(f"incr of {current!r} should fail")
                if current is None:
                    model.data[key] = (delta, None)
                else:
                    model.data[key] = (current + delta, model.data[key][1])
                assert await cache.incr(key, delta) == model.data[key][0], op
            elif name == "expire":
                _, key, ttl = op
                was = model.live(key)
                if was:
                    model.data[key] = (model.data[key][0], model.at(ttl))
                assert await cache.expire(key, ttl) == was, op
            elif name == "ttl":
                got = await cache.ttl(op[1])
                if not model.live(op[1]):
                    assert got is None, op
                else:
                    expires = model.data[op[1]][1]
                    want = math.inf if expires is None else expires - clock.now
                    assert got == want, op
            elif name == "get_many":
                found = {k: model.data[k][0] for k in op[1] if model.live(k)}
                assert await cache.get_many(op[1]) == found, op
            elif name == "set_many":
                _, items, ttl = op
                await cache.set_many(items, ttl=ttl)
                for key, value in items.items():
                    model.data[key] = (value, model.at(ttl))
            elif name == "advance":
                clock.advance(op[1])
            elif name == "sweep":
                await cache.sweep()
                for key in [k for k in model.data if not model.live(k)]:
                    del model.data[key]
            elif name == "clear":
                await cache.clear()
                model.data.clear()
        # Whatever happened, the totals the triggers keep match the rows.
        rows = "SELECT count(*), coalesce(sum(size), 0) FROM loopsafe_cache"
        if cache.backend == "postgresql":
            totals = (
                "SELECT coalesce(sum(entries), 0), coalesce(sum(bytes), 0)"
                " FROM loopsafe_cache_totals"
            )
            stored = await cache.pool.fetchrow(rows)
            counted = await cache.pool.fetchrow(totals)
            assert stored is not None
            assert counted is not None
            assert tuple(counted) == tuple(stored)
        else:
            totals = "SELECT entries, bytes FROM loopsafe_cache_totals"
            assert await cache.database.fetchone(totals) == await cache.database.fetchone(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=40))
def test_the_cache_behaves_like_a_dict_with_ttls(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(ops, str(Path(directory) / "c.db")))


_examples = itertools.count()


# One schema for the test, a namespace per example: the examples can't see each other's
# keys, and the totals check covers every namespace's rows at once.
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(OPS, max_size=40))
def test_the_cache_on_postgres_behaves_like_the_same_dict(
    postgres: Backend, ops: list[tuple[Any, ...]]
) -> None:
    asyncio.run(run(ops, postgres.target("model"), namespace=f"e{next(_examples)}"))
