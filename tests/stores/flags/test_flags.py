"""Flags: gates, snapshot checks, refreshes across processes' objects, the audit log."""

from __future__ import annotations

import asyncio
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import loopsafe
from loopsafe import Flags
from loopsafe.stores.flags import Flag, Gate, actor_bucket

from ..conftest import Backend


class Draws:
    """A random source the test sets."""

    def __init__(self) -> None:
        self.value = 0.5

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def draws() -> Draws:
    return Draws()


@pytest.fixture
async def flags(backend: Backend, draws: Draws) -> AsyncIterator[Flags]:
    async with Flags(backend.target("f"), random=draws, clock=lambda: 1234.5) as f:
        yield f


async def test_unknown_flags_are_off(flags: Flags) -> None:
    assert not flags.is_enabled("nope")
    assert not flags.is_enabled("nope", "user-1", ["staff"])
    assert await flags.get("nope") is None


async def test_the_boolean_gate_is_a_kill_switch(flags: Flags) -> None:
    await flags.set("f", enabled=True, actors=["a"])
    assert flags.is_enabled("f")
    assert flags.is_enabled("f", "anyone")
    await flags.set("f", enabled=False)
    assert not flags.is_enabled("f", "anyone")
    assert flags.is_enabled("f", "a")  # the other gates were kept


async def test_actor_and_group_gates(flags: Flags) -> None:
    await flags.set("f", actors=["u1"], groups=["staff"])
    assert flags.is_enabled("f", "u1")
    assert not flags.is_enabled("f", "u2")
    assert flags.is_enabled("f", "u2", groups=["beta", "staff"])
    assert not flags.is_enabled("f", "u2", groups=["beta"])
    assert flags.is_enabled("f", groups=["staff"])  # a group without an actor
    assert flags.evaluate("f", "u1") == (await flags.get("f"), Gate.ACTOR)


def test_the_bucket_function_is_frozen() -> None:
    # These values must never change: buckets that moved would flip users in and out.
    assert actor_bucket("new-checkout", "user-42") == zlib.crc32(b"new-checkout#user-42") % 100_000
    assert actor_bucket("new-checkout", "user-42") == 16085
    assert actor_bucket("f", "1") == 88379


async def test_percentage_of_actors_is_sticky_and_grows_monotonically(flags: Flags) -> None:
    actors = [f"user-{i}" for i in range(2000)]
    on: dict[float, set[str]] = {}
    for pct in (0, 10, 25, 50, 100):
        await flags.set("f", percentage_of_actors=pct)
        on[pct] = {a for a in actors if flags.is_enabled("f", a)}
        assert on[pct] == {a for a in actors if actor_bucket("f", a) < pct * 1000}
    assert on[0] == set()
    assert on[0] <= on[10] <= on[25] <= on[50] <= on[100] == set(actors)
    assert 100 < len(on[10]) < 300  # about 10%
    assert not flags.is_enabled("f")  # no actor, no bucket (at 100% too: every *actor*)


async def test_percentage_of_time_uses_the_injected_random_source(
    flags: Flags, draws: Draws
) -> None:
    await flags.set("f", percentage_of_time=30)
    draws.value = 0.29
    assert flags.is_enabled("f")
    assert flags.evaluate("f")[1] is Gate.PERCENTAGE_OF_TIME
    draws.value = 0.30
    assert not flags.is_enabled("f")


async def test_an_argument_left_out_keeps_its_gate(flags: Flags) -> None:
    await flags.set("f", actors=["a"], percentage_of_time=5)
    flag = await flags.set("f", groups=["g"])
    assert flag == Flag("f", actors=frozenset({"a"}), groups=frozenset({"g"}), percentage_of_time=5)
    assert await flags.get("f") == flag


@pytest.mark.parametrize(
    "kwargs",
    [
        {"percentage_of_actors": 101},
        {"percentage_of_actors": -1},
        {"percentage_of_time": float("nan")},
        {"percentage_of_time": "5"},
        {"actors": "alice"},
        {"groups": [1]},
        {"enabled": 1},
        {"by": 7},
    ],
)
async def test_bad_changes_are_refused_and_change_nothing(
    flags: Flags, kwargs: dict[str, object]
) -> None:
    await flags.set("f", enabled=True)
    with pytest.raises(loopsafe.FlagValueError):
        await flags.set("f", **kwargs)  # type: ignore[arg-type]
    assert await flags.get("f") == Flag("f", enabled=True)
    assert len(await flags.audit("f")) == 1


async def test_every_change_is_audited(flags: Flags) -> None:
    await flags.set("f", enabled=True, by="alice")
    await flags.set("f", enabled=True, by="bob")  # no change: no row
    await flags.set("f", actors=["u1"], by="bob")
    assert await flags.delete("f", by="carol")
    assert not await flags.delete("f")
    log = await flags.audit("f")
    assert [(e.by, e.at) for e in log] == [("alice", 1234.5), ("bob", 1234.5), ("carol", 1234.5)]
    assert log[0].before is None
    assert log[0].after == Flag("f", enabled=True)
    assert log[1].before == Flag("f", enabled=True)
    assert log[1].after == Flag("f", enabled=True, actors=frozenset({"u1"}))
    assert log[2].after is None
    assert not flags.is_enabled("f")
    assert [e.by for e in await flags.audit("f", limit=1)] == ["carol"]


async def test_another_objects_change_is_seen_after_a_refresh(tmp_path: Path) -> None:
    # SQLite only: on PostgreSQL the change is announced, and b reloads by itself
    # (test_flags_postgres.py).
    path = tmp_path / "f.db"
    # A long interval: the test refreshes by hand instead of waiting for the poll.
    async with Flags(path, refresh_interval=3600) as a, Flags(path, refresh_interval=3600) as b:
        await a.set("f", enabled=True)
        assert a.is_enabled("f")  # at once in the object that changed it
        assert not b.is_enabled("f")  # the other answers from its snapshot...
        assert await b.refresh()
        assert b.is_enabled("f")  # ...until it reloads
        assert not await b.refresh()  # nothing changed since: no reload
        assert b.stats().reloads == 2  # on open, and after the change


async def test_the_background_poll_picks_up_changes(backend: Backend) -> None:
    path = backend.target("f")
    async with Flags(path, refresh_interval=0.01) as a, Flags(path, refresh_interval=0.01) as b:
        await a.set("f", enabled=True)
        for _ in range(2000):  # up to 10 s: the poll runs every 10 ms
            if b.is_enabled("f"):
                break
            await asyncio.sleep(0.005)
        assert b.is_enabled("f")


async def test_checks_are_counted(flags: Flags) -> None:
    await flags.set("f", enabled=True)
    for _ in range(5):
        flags.is_enabled("f")
    stats = flags.stats()
    assert (stats.checks, stats.changes, stats.flags) == (5, 1, 1)


async def test_flags_share_a_database_with_a_cache(tmp_path: Path) -> None:
    async with (
        loopsafe.open(tmp_path / "app.db") as db,
        Flags(db) as flags,
        loopsafe.Cache(db) as cache,
    ):
        await flags.set("f", enabled=True)
        await cache.set("k", 1)
        assert flags.is_enabled("f")
        assert await cache.get("k") == 1


SETTER = """
import asyncio, sys, loopsafe
async def main(path):
    async with loopsafe.Flags(path) as flags:
        await flags.set("from-child", actors=["u1"], by="child")
asyncio.run(main(sys.argv[1]))
"""


async def test_a_change_in_another_process_is_seen_after_a_refresh(tmp_path: Path) -> None:
    # SQLite only, as the test of another object's change above.
    path = tmp_path / "f.db"
    async with Flags(path, refresh_interval=3600) as flags:
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", SETTER, str(path))
        assert await child.wait() == 0
        assert not flags.is_enabled("from-child", "u1")
        assert await flags.refresh()
        assert flags.is_enabled("from-child", "u1")
        assert [e.by for e in await flags.audit("from-child")] == ["child"]


def test_an_audit_entry_round_trips_through_its_stored_row() -> None:
    from loopsafe.stores.flags._flag import AuditEntry, Flag

    after = Flag(name="f", enabled=True, actors=frozenset({"u1"}))
    entry = AuditEntry(flag="f", at=12.5, by="ops", before=None, after=after)
    flag, at, by, before, stored = entry.row()
    assert (flag, at, by, before) == ("f", 12.5, "ops", None)
    assert AuditEntry.from_row(flag, at, by, before, stored) == entry
