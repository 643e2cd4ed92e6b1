"""The wake-ups both queue backends share: no wake-up is lost between a claim and a wait."""

from __future__ import annotations

import asyncio

from loopsafe.stores.queue._postgres import PostgresBackend
from loopsafe.stores.queue._sqlite import SQLiteBackend
from loopsafe.stores.queue._wakeups import Wakeups


async def test_a_wake_up_after_the_claim_and_before_the_wait_is_not_lost() -> None:
    wakeups = Wakeups()
    seen = wakeups.generation  # read before claiming
    wakeups.notify()  # an enqueue lands while the claim runs
    # The wait returns at once: the timeout is one no test outlives.
    await asyncio.wait_for(wakeups.wait_for_jobs(3600.0, seen), 30)


async def test_a_notify_wakes_a_waiting_worker() -> None:
    wakeups = Wakeups()
    waiting = asyncio.ensure_future(wakeups.wait_for_jobs(3600.0, wakeups.generation))
    await asyncio.sleep(0)
    assert not waiting.done()
    wakeups.notify()
    await asyncio.wait_for(waiting, 30)


async def test_without_a_wake_up_the_wait_ends_at_its_timeout() -> None:
    wakeups = Wakeups()
    await wakeups.wait_for_jobs(0.01, wakeups.generation)
    assert wakeups.generation == 0


def test_both_backends_wake_their_workers_the_same_way() -> None:
    assert issubclass(SQLiteBackend, Wakeups)
    assert issubclass(PostgresBackend, Wakeups)
