"""Recurring jobs: the cron parser, and one job per tick however many workers run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from loopsafe import Queue
from loopsafe.errors import ScheduleError
from loopsafe.stores.queue import NewJob
from loopsafe.stores.queue._cron import Cron
from loopsafe.stores.queue._sqlite import SQLiteBackend

from ..conftest import Backend
from .helpers import Clock, fetch, fetchval, wait_until


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("expression", "now", "latest"),
    [
        ("* * * * *", "2026-03-04 10:17:42", "2026-03-04 10:17:00"),
        ("*/15 * * * *", "2026-03-04 10:17:42", "2026-03-04 10:15:00"),
        ("0 9 * * *", "2026-03-04 08:59:59", "2026-03-03 09:00:00"),
        ("30 2 1 * *", "2026-03-04 10:00:00", "2026-03-01 02:30:00"),
        ("0 0 * * 0", "2026-03-04 10:00:00", "2026-03-01 00:00:00"),  # Sunday
        ("0 0 * * 7", "2026-03-04 10:00:00", "2026-03-01 00:00:00"),  # 7 is Sunday too
        ("0 12 * * 1-5", "2026-03-08 13:00:00", "2026-03-06 12:00:00"),  # Friday
        ("0 0 29 2 *", "2026-03-04 10:00:00", "2024-02-29 00:00:00"),
        ("5,10 3-4/1 * 1,6 *", "2026-03-04 10:00:00", "2026-01-31 04:10:00"),
        # Both day fields restricted: either matches (the 13th, or a Friday).
        ("0 0 13 * 5", "2026-03-12 10:00:00", "2026-03-06 00:00:00"),
    ],
)
def test_latest_tick(expression: str, now: str, latest: str) -> None:
    assert Cron.parse(expression).latest(ts(now)) == ts(latest)


def test_an_expression_that_never_fires_has_no_tick() -> None:
    assert Cron.parse("0 0 31 2 *").latest(ts("2026-03-04 10:00:00")) is None


@pytest.mark.parametrize(
    "expression", ["* * * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "@daily", "MON * * * *"]
)
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        Cron.parse(expression)


async def test_a_tick_runs_once_however_many_workers_see_it(backend: Backend) -> None:
    clock = Clock(ts("2026-03-04 10:15:01"))
    queues = [Queue(backend.target("jobs"), clock=clock, poll_interval=0.02) for _ in range(3)]
    for q in queues:

        @q.task(name="report", cron="*/15 * * * *")
        async def report() -> str:
            return "sent"

    async def succeeded(n: int) -> bool:
        count = await fetchval(
            queues[0],
            "SELECT count(*) FROM loopsafe_jobs WHERE task = 'report' AND state = 'succeeded'",
        )
        return int(count) >= n

    async def ticks() -> list[float]:
        rows = await fetch(
            queues[0], "SELECT run_at FROM loopsafe_jobs WHERE task = 'report' ORDER BY run_at"
        )
        return [r[0] for r in rows]

    for q in queues:
        await q.open()
    try:
        workers = [q.worker() for q in queues]
        for w in workers:
            await w.__aenter__()
        await wait_until(lambda: succeeded(1))
        clock.advance(15 * 60)
        await wait_until(lambda: succeeded(2))
        for w in workers:
            await w.__aexit__(None, None, None)
        assert await ticks() == [ts("2026-03-04 10:15:00"), ts("2026-03-04 10:30:00")]
    finally:
        for q in queues:
            await q.close()


async def test_the_task_and_tick_row_admits_one_job_per_tick(tmp_path: Path) -> None:
    async with Queue(tmp_path / "jobs.db") as queue:

        @queue.task(cron="* * * * *")
        async def beat() -> None:
            return None

        tick = ts("2026-03-04 10:15:00")
        new = NewJob("beat", "default", "{}", 0, tick, 1, cron_tick=tick)
        again = NewJob("beat", "default", "{}", 0, tick, 1, cron_tick=tick)
        backend = SQLiteBackend(queue.database)
        first = await backend.enqueue([new], tick)
        assert first[0] > 0
        assert await backend.enqueue([again], tick) == [0]
        assert (await queue.refresh_stats()).count("queued") == 1
