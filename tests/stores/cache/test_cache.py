"""The Cache's behaviour: values, expiry, bounds, tags, namespaces, fills."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import loopsafe
from loopsafe import Cache, Flags
from loopsafe.errors import StoreError
from loopsafe.stores.cache import PickleSerializer

from ..conftest import Backend
from ._clock import FakeClock


async def scalar(cache: Cache, sql: str, *args: object) -> Any:
    """One value from the cache's own storage, on either backend (``?`` placeholders)."""
    if cache.backend == "postgresql":
        numbers = iter(range(1, len(args) + 1))
        return await cache.pool.fetchval(re.sub(r"\?", lambda _: f"${next(numbers)}", sql), *args)
    return await cache.database.fetchval(sql, args)


async def execute(cache: Cache, sql: str, *args: object) -> None:
    """One statement on the cache's own storage, on either backend (``?`` placeholders)."""
    if cache.backend == "postgresql":
        numbers = iter(range(1, len(args) + 1))
        await cache.pool.execute(re.sub(r"\?", lambda _: f"${next(numbers)}", sql), *args)
    else:
        await cache.database.execute(sql, args)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cache(backend: Backend, clock: FakeClock) -> AsyncIterator[Cache]:
    async with Cache(backend.target("c"), clock=clock) as c:
        yield c


async def test_values_come_back_with_their_type(cache: Cache) -> None:
    values = {"b": b"\x00\xff", "s": "text", "j": {"a": [1, 2.5, None, True]}, "i": 7}
    for key, value in values.items():
        await cache.set(key, value)
    for key, value in values.items():
        got = await cache.get(key)
        assert got == value
        assert type(got) is type(value)
    assert await cache.get("missing") is None
    assert await cache.get("missing", "dflt") == "dflt"
    assert await cache.get_many(["b", "i", "missing"]) == {"b": b"\x00\xff", "i": 7}


async def test_expiry_is_decided_on_read_and_rows_removed_by_sweep(
    cache: Cache, clock: FakeClock
) -> None:
    await cache.set("k", "v", ttl=10)
    clock.advance(9.5)
    assert await cache.get("k") == "v"
    assert await cache.ttl("k") == pytest.approx(0.5)
    clock.advance(0.5)
    assert await cache.get("k") is None
    assert await cache.ttl("k") is None
    # The read did not delete it: the row is still there until a sweep.
    assert await scalar(cache, "SELECT count(*) FROM loopsafe_cache") == 1
    assert await cache.sweep() == 1
    assert await scalar(cache, "SELECT count(*) FROM loopsafe_cache") == 0
    assert cache.stats().expired == 1


async def test_a_read_never_writes(tmp_path: Path, clock: FakeClock) -> None:
    cache = await Cache(tmp_path / "c.db", clock=clock).open()
    await cache.set("k", "v", ttl=1)
    clock.advance(5)
    before = await cache.database.fetchval("PRAGMA data_version")
    changes = await cache.database.read(lambda conn: conn.total_changes)
    await cache.get("k")
    await cache.get_many(["k", "x"])
    await cache.ttl("k")
    assert await cache.database.read(lambda conn: conn.total_changes) == changes
    assert await cache.database.fetchval("PRAGMA data_version") == before
    await cache.close()


async def test_add_only_when_absent_or_expired(cache: Cache, clock: FakeClock) -> None:
    assert await cache.add("k", 1, ttl=5)
    assert not await cache.add("k", 2)
    assert await cache.get("k") == 1
    clock.advance(5)
    assert await cache.add("k", 3)
    assert await cache.get("k") == 3


async def test_delete_expire_and_ttl(cache: Cache, clock: FakeClock) -> None:
    await cache.set("k", "v")
    assert await cache.ttl("k") == math.inf
    assert await cache.expire("k", 3)
    assert await cache.ttl("k") == pytest.approx(3)
    assert await cache.expire("k", None)
    assert await cache.ttl("k") == math.inf
    assert not await cache.expire("nope", 3)
    assert await cache.delete("k")
    assert not await cache.delete("k")


async def test_incr_and_decr(cache: Cache, clock: FakeClock) -> None:
    assert await cache.incr("n") == 1
    assert await cache.incr("n", 10) == 11
    assert await cache.decr("n", 2) == 9
    assert await cache.get("n") == 9
    assert await cache.incr("t", default=100, ttl=5) == 101
    clock.advance(4)
    assert await cache.incr("t") == 102  # keeps its expiry
    clock.advance(1)
    assert await cache.incr("t") == 1
    await cache.set("s", "text")
    with pytest.raises(loopsafe.ValueTypeError):
        await cache.incr("s")
    assert await cache.get("s") == "text"


async def test_concurrent_incr_loses_no_update(cache: Cache) -> None:
    await asyncio.gather(*(cache.incr("n") for _ in range(200)))
    assert await cache.get("n") == 200


async def test_an_oversized_value_is_refused_and_the_old_one_stays(backend: Backend) -> None:
    async with Cache(backend.target("c"), max_value_size=100) as cache:
        await cache.set("k", b"old")
        with pytest.raises(loopsafe.ValueTooLargeError, match="max_value_size"):
            await cache.set("k", b"x" * 101)
        with pytest.raises(loopsafe.ValueTooLargeError):
            await cache.set_many({"a": b"1", "k": b"x" * 101})
        assert await cache.get("k") == b"old"
        assert await cache.get("a") is None


async def test_the_default_limit_is_16_mib(cache: Cache) -> None:
    assert cache.max_value_size == 16 << 20
    await cache.set("k", b"old")
    with pytest.raises(loopsafe.ValueTooLargeError):
        await cache.set("k", b"x" * ((16 << 20) + 1))
    assert await cache.get("k") == b"old"


async def test_values_that_are_not_json_need_an_explicit_serializer(
    cache: Cache, backend: Backend
) -> None:
    with pytest.raises(loopsafe.SerializationError, match="JSON"):
        await cache.set("k", {1, 2})
    async with Cache(backend.target("p"), serializer=PickleSerializer()) as pickled:
        await pickled.set("k", {1, 2})
        assert await pickled.get("k") == {1, 2}
    async with Cache(backend.target("p")) as plain:
        with pytest.raises(loopsafe.SerializationError, match="pickle"):
            await plain.get("k")


@pytest.mark.parametrize("key", ["", 1, None, b"k"])
async def test_bad_keys_are_refused(cache: Cache, key: object) -> None:
    with pytest.raises(loopsafe.InvalidKeyError):
        await cache.set(key, 1)  # type: ignore[arg-type]
    with pytest.raises(loopsafe.InvalidKeyError):
        await cache.get(key)  # type: ignore[arg-type]


async def test_bad_arguments_are_refused(cache: Cache, backend: Backend) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await cache.set("k", 1, ttl=0)
    with pytest.raises(ValueError, match="stale needs a ttl"):
        await cache.set("k", 1, stale=5)
    with pytest.raises(loopsafe.InvalidKeyError, match="tags"):
        await cache.set("k", 1, tags="one")
    with pytest.raises(ValueError, match="max_value_size"):
        Cache(backend.target("x"), max_bytes=10, max_value_size=100)


async def test_entry_bound_evicts_least_recently_stored(backend: Backend) -> None:
    async with Cache(backend.target("c"), max_entries=3) as cache:
        for key in "abc":
            await cache.set(key, key)
        await cache.get("a")  # a read does not save "a"
        await cache.set("b", "b2")  # an overwrite does
        await cache.set("d", "d")
        assert await cache.get_many("abcd") == {"b": "b2", "c": "c", "d": "d"}
        assert cache.stats().evictions == 1
        assert cache.stats().entries == 3


async def test_fifo_keeps_an_overwritten_entry_in_its_place(backend: Backend) -> None:
    async with Cache(backend.target("c"), max_entries=3, eviction="fifo") as cache:
        for key in "abc":
            await cache.set(key, key)
        await cache.set("a", "a2")
        await cache.set("d", "d")
        assert await cache.get_many("abcd") == {"b": "b", "c": "c", "d": "d"}


async def test_byte_bound_holds_once_a_write_returns(backend: Backend) -> None:
    async with Cache(backend.target("c"), max_bytes=1000, max_value_size=100) as cache:
        for i in range(50):
            await cache.set(f"k{i}", b"x" * 100)
            total = await scalar(cache, "SELECT coalesce(sum(size), 0) FROM loopsafe_cache")
            assert total <= 1000
        assert cache.stats().bytes == 1000
        assert await cache.get("k49") == b"x" * 100


async def test_concurrent_writes_respect_the_bound(backend: Backend) -> None:
    async with Cache(backend.target("c"), max_entries=10) as cache:
        await asyncio.gather(*(cache.set(f"k{i}", i) for i in range(200)))
        assert await scalar(cache, "SELECT count(*) FROM loopsafe_cache") <= 10


async def test_tags_invalidate_groups(cache: Cache) -> None:
    await cache.set("u1", 1, tags=("users", "u:1"))
    await cache.set("u2", 2, tags=("users",))
    await cache.set_many({"p1": 1, "p2": 2}, tags=("posts",))
    assert await cache.invalidate_tags("users") == 2
    assert await cache.get_many(["u1", "u2", "p1", "p2"]) == {"p1": 1, "p2": 2}
    # An overwrite drops the old value's tags.
    await cache.set("p1", 10)
    assert await cache.invalidate_tags("posts") == 1
    assert await cache.get("p1") == 10


async def test_namespaces_share_a_file_but_not_keys(tmp_path: Path) -> None:
    async with (
        loopsafe.open(tmp_path / "c.db") as db,
        Cache(db, namespace="a") as a,
        Cache(db, namespace="b") as b,
    ):
        await a.set("k", "in a")
        await b.set("k", "in b")
        assert await a.get("k") == "in a"
        assert await b.clear() == 1
        assert await b.get("k") is None
        assert await a.get("k") == "in a"
        assert await b.clear(namespace="a") == 1
        assert await a.get("k") is None


async def test_a_shared_database_with_dict_rows_works(tmp_path: Path) -> None:
    async with loopsafe.open(tmp_path / "c.db", rows="dict") as db, Cache(db) as cache:
        await cache.set("k", [1])
        assert await cache.get("k") == [1]
        assert await cache.incr("n") == 1
        assert await cache.sweep() == 0


async def test_get_or_set_calls_the_factory_once_for_concurrent_callers(cache: Cache) -> None:
    calls = 0
    started, release = asyncio.Event(), asyncio.Event()

    async def factory() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return "made"

    callers = [asyncio.ensure_future(cache.get_or_set("k", factory, ttl=60)) for _ in range(20)]
    await started.wait()
    await asyncio.sleep(0.01)  # let every caller reach the cache
    release.set()
    assert await asyncio.gather(*callers) == ["made"] * 20
    assert calls == 1
    assert await cache.get_or_set("k", factory) == "made"
    assert calls == 1
    assert cache.stats().factory_calls == 1


async def test_a_factory_error_reaches_every_caller_and_stores_nothing(cache: Cache) -> None:
    async def factory() -> str:
        await asyncio.sleep(0)
        raise RuntimeError("backend down")

    results = await asyncio.gather(
        *(cache.get_or_set("k", factory) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await cache.get("k") is None
    assert await scalar(cache, "SELECT count(*) FROM loopsafe_cache_locks") == 0


async def test_a_cancelled_caller_does_not_cancel_the_shared_fill(cache: Cache) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def factory() -> str:
        started.set()
        await release.wait()
        return "v"

    first = asyncio.ensure_future(cache.get_or_set("k", factory))
    await started.wait()  # first's fill is running
    second = asyncio.ensure_future(cache.get_or_set("k", factory))
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    assert await second == "v"
    assert first.cancelled()
    assert await cache.get("k") == "v"


async def test_stale_values_are_served_while_one_caller_refreshes(
    cache: Cache, clock: FakeClock
) -> None:
    calls = 0
    release = asyncio.Event()

    async def factory() -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            await release.wait()  # the refresh takes a while
        return f"v{calls}"

    assert await cache.get_or_set("k", factory, ttl=10, stale=20) == "v1"
    clock.advance(15)  # stale, within the hard TTL
    assert await cache.get("k") is None  # get() never serves stale
    assert await cache.get_or_set("k", factory, ttl=10, stale=20) == "v1"
    assert await cache.get_or_set("k", factory, ttl=10, stale=20) == "v1"
    release.set()
    # The refresh runs in the background with no handle to await: look for its value.
    while await cache.get("k") != "v2":  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    assert calls == 2  # one refresh for both stale callers
    assert cache.stats().stale_hits == 2
    clock.advance(31)  # past the hard TTL: the caller waits for a fresh value
    assert await cache.get_or_set("k", factory, ttl=10, stale=20) == "v3"


async def test_the_cached_decorator(cache: Cache) -> None:
    calls: list[tuple[int, int]] = []

    @cache.cached(ttl=60)
    async def area(width: int, height: int = 2) -> int:
        calls.append((width, height))
        return width * height

    assert await area(3) == 6
    assert await area(width=3) == 6
    assert await area(3, 2) == 6
    assert await area(4) == 8
    assert calls == [(3, 2), (4, 2)]
    assert area.key(3).endswith('area:{"height":2,"width":3}')
    assert await area.invalidate(3)
    assert await area(3) == 6
    assert len(calls) == 3

    @cache.cached()
    async def takes_anything(thing: object) -> int:
        return 1

    with pytest.raises(loopsafe.InvalidKeyError, match="key="):
        await takes_anything(object())


async def test_a_cache_before_open_and_after_close(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c.db")  # constructing does no I/O
    assert not (tmp_path / "c.db").exists()
    with pytest.raises(StoreError, match="not open"):
        await cache.get("k")
    await cache.open()
    await cache.set("k", 1)
    await cache.close()
    with pytest.raises(loopsafe.ClosedError):
        await cache.get("k")


async def test_values_persist_across_opens(backend: Backend) -> None:
    async with Cache(backend.target("c")) as cache:
        await cache.set("k", {"v": 1}, ttl=3600)
    async with Cache(backend.target("c")) as cache:
        assert await cache.get("k") == {"v": 1}
        assert cache.stats().entries == 1


async def test_concurrent_gets_share_queries_and_each_gets_its_own_value(cache: Cache) -> None:
    await cache.set_many({f"k{i}": i for i in range(50)})
    keys = [f"k{i % 60}" for i in range(300)]  # some missing, many repeated
    got = await asyncio.gather(*(cache.get(key, "none") for key in keys))
    assert got == [i % 60 if i % 60 < 50 else "none" for i in range(300)]


async def test_a_cancelled_get_leaves_the_others_in_its_batch(
    backend: Backend, clock: FakeClock
) -> None:
    # On SQLite the engine's fast path would answer each get on the loop at once, so no
    # get would wait in a batch to be cancelled there: it is turned off for this test.
    options = {"inline": False} if backend.name == "sqlite" else None
    async with Cache(backend.target("c"), clock=clock, open_options=options) as cache:
        await cache.set_many({"a": 1, "b": 2, "c": 3})
        calls = [asyncio.ensure_future(cache.get(key)) for key in "abcabc"]
        await asyncio.sleep(0)
        calls[4].cancel()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert results[:4] == [1, 2, 3, 1]
        assert isinstance(results[4], asyncio.CancelledError)
        assert results[5] == 3
        assert await cache.get("b") == 2


LOCK = "INSERT INTO loopsafe_cache_locks (namespace, key, owner, expires_at) VALUES (?, ?, ?, ?)"


async def test_a_fill_locked_by_another_process_is_waited_for_then_taken_over(
    backend: Backend, clock: FakeClock
) -> None:
    path = backend.target("c")
    calls = 0

    async def factory() -> str:
        nonlocal calls
        calls += 1
        return "mine"

    # Both on one clock, as two processes share the wall clock: with the real one, the
    # other cache would see the fake-clock rows as long expired and sweep them mid-test.
    async with (
        Cache(path, clock=clock, lock_poll=0.001) as cache,
        Cache(path, clock=clock) as other,
    ):
        # "other" holds k's fill lock: the caller waits for its value instead of filling.
        await execute(other, LOCK, *("default", "k", "other", clock.now + 10))
        waiter = asyncio.ensure_future(cache.get_or_set("k", factory))
        await asyncio.sleep(0.02)
        assert not waiter.done()
        await other.set("k", "theirs")
        assert await waiter == "theirs"
        assert calls == 0
        # A lock whose holder went away lapses: then the caller fills it.
        await execute(other, LOCK, *("default", "j", "other", clock.now + 5))
        waiter = asyncio.ensure_future(cache.get_or_set("j", factory))
        await asyncio.sleep(0.02)
        assert not waiter.done()
        clock.advance(5)
        assert await waiter == "mine"
        assert calls == 1


async def test_a_stale_value_refreshed_elsewhere_is_left_to_that_process(
    backend: Backend, clock: FakeClock
) -> None:
    path = backend.target("c")

    async def factory() -> str:
        raise AssertionError("another process is refreshing this key")

    # Both on one clock, as two processes share the wall clock: with the real one, the
    # other cache would see the fake-clock rows as long expired and sweep them mid-test.
    async with (
        Cache(path, clock=clock, lock_poll=0.001) as cache,
        Cache(path, clock=clock) as other,
    ):
        await cache.set("s", "old", ttl=1, stale=100)
        clock.advance(2)
        await execute(other, LOCK, *("default", "s", "other", clock.now + 500))
        assert await cache.get_or_set("s", factory, ttl=1, stale=100) == "old"
        clock.advance(200)  # past the hard TTL: now a caller must wait for the other's value
        waiter = asyncio.ensure_future(cache.get_or_set("s", factory, ttl=1, stale=100))
        await asyncio.sleep(0.02)
        assert not waiter.done()
        await other.set("s", "new")
        assert await waiter == "new"


async def test_a_caller_never_joins_a_flight_that_has_just_ended(
    backend: Backend, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race seen in full-suite runs, made certain: a background refresh gives up (another
    # process holds the lock) in the same loop iteration in which a caller past the hard TTL
    # looks for a flight to join. A finished flight still listed was joined, answered
    # "gave up" without yielding, and was joined again: the loop spun for good.
    async with (
        Cache(backend.target("c"), clock=clock, lock_poll=0.001) as cache,
        Cache(backend.target("c"), clock=clock) as other,
    ):
        await cache.set("s", "old", ttl=1, stale=100)
        await execute(other, LOCK, *("default", "s", "other", clock.now + 500))
        clock.advance(2)
        storage = cache._backend
        assert storage is not None
        expired = await storage.get("default", "s")
        real_get, real_try_lock = storage.get, storage.try_lock
        waiters: list[asyncio.Future[object]] = []
        started = asyncio.Event()

        async def get_without_yielding(namespace: str, key: str) -> object:
            return expired if waiters else await real_get(namespace, key)

        async def try_lock(*args: object) -> bool:
            taken = await real_try_lock(*args)  # type: ignore[arg-type]
            if not waiters:
                clock.advance(200)  # past the hard TTL: the next caller must wait
                waiters.append(asyncio.ensure_future(cache.get_or_set("s", factory)))
                started.set()
            return taken

        async def factory() -> str:
            raise AssertionError("another process is refreshing this key")

        joins = 0
        real_flight = cache._flight

        def counted_flight(*args: object, **kwargs: object) -> asyncio.Task[object]:
            nonlocal joins
            joins += 1
            if joins > 100:
                raise AssertionError("the caller keeps joining a flight that has ended")
            return real_flight(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(storage, "get", get_without_yielding)
        monkeypatch.setattr(storage, "try_lock", try_lock)
        monkeypatch.setattr(cache, "_flight", counted_flight)
        assert await cache.get_or_set("s", factory, ttl=1, stale=100) == "old"
        await started.wait()
        await asyncio.sleep(0.02)
        assert not waiters[0].done()
        monkeypatch.setattr(storage, "get", real_get)
        await other.set("s", "new")
        assert await waiters[0] == "new"


async def test_closing_during_a_fill_gives_its_callers_closed_error(backend: Backend) -> None:
    started = asyncio.Event()

    async def factory() -> str:
        started.set()
        await asyncio.Event().wait()  # never finishes by itself
        return "never"

    cache = await Cache(backend.target("c")).open()
    caller = asyncio.ensure_future(cache.get_or_set("k", factory))
    await started.wait()
    await cache.close()
    with pytest.raises(loopsafe.ClosedError, match="closed"):
        await caller


async def test_a_read_only_file_serves_reads_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with Cache(path) as cache:
        await cache.set("k", "v")
    async with Cache(path, open_options={"readonly": True}) as cache:
        assert await cache.get("k") == "v"
        with pytest.raises(loopsafe.ReadOnlyError):
            await cache.set("k", "w")
        assert await cache.get("k") == "v"


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    path.write_bytes(b"not a database at all" * 200)
    with pytest.raises(loopsafe.CorruptError):
        await Cache(path).open()
    with pytest.raises(loopsafe.CorruptError):
        await Flags(path).open()
