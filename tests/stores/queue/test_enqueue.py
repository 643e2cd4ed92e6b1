"""Enqueueing and reading jobs: options, bad input, unique keys, the caller's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import loopsafe
from loopsafe import Queue
from loopsafe.errors import (
    ClosedError,
    CorruptError,
    PayloadError,
    ScheduleError,
    StoreError,
    UnknownTaskError,
)
from loopsafe.stores.queue import JobState

from ..conftest import Backend
from .helpers import Clock


def make(path: str | Path | loopsafe.Database, **kw: object) -> Queue:
    q = Queue(path, **kw)  # type: ignore[arg-type]

    @q.task
    async def send(to: str, body: str = "") -> str:
        return to

    @q.task(name="other", queue="mail", priority=5, max_attempts=2)
    async def _other() -> None:
        return None

    return q


@pytest.fixture
async def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
async def queue(backend: Backend, clock: Clock) -> AsyncIterator[Queue]:
    async with make(backend.target("jobs"), clock=clock, max_payload=1000) as q:
        yield q


async def test_enqueue_returns_an_id_and_get_reads_the_job_back(queue: Queue) -> None:
    send = queue.tasks["send"]
    job_id = await send.enqueue("a@b", body="hi")
    job = await queue.get(job_id)
    assert job is not None
    assert (job.task, job.queue, job.args, job.state) == (
        "send",
        "default",
        {"to": "a@b", "body": "hi"},
        JobState.QUEUED,
    )
    assert (job.attempts, job.max_attempts, job.priority, job.result, job.error) == (
        0,
        5,
        0,
        None,
        None,
    )
    assert await queue.get(job_id + 100) is None


async def test_enqueue_by_name_takes_task_defaults_and_per_job_overrides(queue: Queue) -> None:
    a = await queue.enqueue("other")
    b = await queue.enqueue("other", queue="urgent", priority=9, max_attempts=7)
    ja, jb = await queue.get(a), await queue.get(b)
    assert ja is not None
    assert jb is not None
    assert (ja.queue, ja.priority, ja.max_attempts) == ("mail", 5, 2)
    assert (jb.queue, jb.priority, jb.max_attempts) == ("urgent", 9, 7)


async def test_unknown_tasks_and_bad_arguments_are_refused_before_writing(queue: Queue) -> None:
    with pytest.raises(UnknownTaskError, match="nope"):
        await queue.enqueue("nope", {})
    with pytest.raises(TypeError):
        await queue.tasks["send"].enqueue(wrong=1)
    with pytest.raises(PayloadError, match="JSON"):
        await queue.enqueue("send", {"to": {1, 2}})
    with pytest.raises(PayloadError, match="over the limit"):
        await queue.enqueue("send", {"to": "x" * 2000})
    with pytest.raises(ValueError, match="priority"):
        await queue.enqueue("send", {"to": "x"}, priority=2**40)
    with pytest.raises(ValueError, match="max_attempts"):
        await queue.enqueue("send", {"to": "x"}, max_attempts=0)
    assert (await queue.refresh_stats()).count("queued") == 0


async def test_run_at_in_the_past_runs_now_and_too_far_ahead_is_refused(
    queue: Queue, clock: Clock
) -> None:
    past = await queue.enqueue("send", {"to": "x"}, run_at=datetime(2001, 1, 1, tzinfo=UTC))
    job = await queue.get(past)
    assert job is not None
    assert (job.state, job.run_at.timestamp()) == (JobState.QUEUED, clock.now)

    later = await queue.enqueue("send", {"to": "x"}, delay=timedelta(minutes=5))
    job = await queue.get(later)
    assert job is not None
    assert (job.state, job.run_at.timestamp()) == (JobState.SCHEDULED, clock.now + 300)
    clock.advance(301)
    job = await queue.get(later)
    assert job is not None
    assert job.state is JobState.QUEUED

    with pytest.raises(ScheduleError, match="max_delay"):
        await queue.enqueue("send", {"to": "x"}, delay=10 * 365 * 86400)
    with pytest.raises(ValueError, match="aware"):
        await queue.enqueue("send", {"to": "x"}, run_at=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="not both"):
        await queue.enqueue("send", {"to": "x"}, delay=1, run_at=datetime.now(UTC))


async def test_a_unique_key_keeps_one_waiting_job_and_returns_its_id(queue: Queue) -> None:
    first = await queue.enqueue("send", {"to": "a"}, unique_key="user-1")
    again = await queue.enqueue("send", {"to": "b"}, unique_key="user-1")
    other = await queue.enqueue("send", {"to": "c"}, unique_key="user-2")
    assert again == first != other
    assert (await queue.refresh_stats()).count("queued") == 2
    # Once the job is final the key is free again.
    assert await queue.cancel(first)
    fresh = await queue.enqueue("send", {"to": "d"}, unique_key="user-1")
    assert fresh not in (first, other)


async def test_bulk_enqueue_is_one_transaction(queue: Queue) -> None:
    send = queue.tasks["send"]
    ids = await queue.enqueue_many([send.job(to=str(i)) for i in range(100)])
    assert len(set(ids)) == 100
    for i in (0, 37, 99):  # ids come back in the jobs' order
        job = await queue.get(ids[i])
        assert job is not None
        assert job.args == {"to": str(i)}
    mixed = await queue.enqueue_many(
        [send.job(to="u"), queue.job("send", {"to": "k"}, unique_key="k")]
    )
    assert [(await queue.get(i)).args["to"] for i in mixed] == ["u", "k"]  # type: ignore[union-attr]
    assert (await queue.refresh_stats()).count("queued") == 102
    with pytest.raises(UnknownTaskError):
        await queue.enqueue_many([send.job(to="x"), queue.job("nope")])
    assert await queue.enqueue_many([]) == []


async def test_enqueue_in_the_callers_transaction_exists_iff_it_commits(tmp_path: Path) -> None:
    async with loopsafe.open(tmp_path / "app.db") as db:
        await db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        async with make(db) as queue:
            async with db.transaction():
                await db.execute("INSERT INTO orders (id) VALUES (1)")
                kept = await queue.enqueue("send", {"to": "kept"})
            with pytest.raises(RuntimeError):
                async with db.transaction():
                    await db.execute("INSERT INTO orders (id) VALUES (2)")
                    lost = await queue.enqueue("send", {"to": "lost"})
                    await queue.enqueue_many([queue.job("send", {"to": "lost too"})])
                    raise RuntimeError("the caller's work failed")
            assert await queue.get(kept) is not None
            assert await queue.get(lost) is None
            assert (await queue.refresh_stats()).count("queued") == 1
            assert await db.fetchval("SELECT count(*) FROM orders") == 1
        assert not db.closed  # a shared Database stays open


async def test_a_queue_is_built_at_import_time_and_refuses_calls_until_open(
    backend: Backend,
) -> None:
    queue = make(backend.target("jobs"))
    with pytest.raises(StoreError, match="not open"):
        await queue.enqueue("send", {"to": "x"})
    async with queue:
        await queue.enqueue("send", {"to": "x"})
    with pytest.raises(ClosedError):
        await queue.enqueue("send", {"to": "x"})


def test_task_registration_is_checked() -> None:
    q = Queue("unused.db")

    @q.task
    async def job() -> None:
        return None

    with pytest.raises(ValueError, match="already registered"):
        q.task(name="job")(job.fn)

    def not_async() -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        q.task(not_async)  # type: ignore[arg-type]
    with pytest.raises(ScheduleError):
        q.task(name="c", cron="every minute")(job.fn)


def test_queue_options_are_checked() -> None:
    for kw in ({"lease": 0}, {"poll_interval": -1}, {"retention": float("inf")}):
        with pytest.raises(ValueError, match="positive"):
            Queue("unused.db", **kw)


async def test_a_file_that_is_not_sqlite_is_refused_on_open(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    path.write_bytes(b"not a database, just some bytes " * 100)
    with pytest.raises(CorruptError):
        await make(path).open()
