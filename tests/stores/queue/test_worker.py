"""The in-process worker: running, retrying, stopping, ordering and limiting jobs."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import loopsafe
from loopsafe import Queue
from loopsafe.errors import (
    DeadlineError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    QueueError,
)
from loopsafe.stores.queue import JobState, Retry, current_job

from ..conftest import Backend
from .helpers import Clock, state_of, wait_until

NEVER = 3600.0  # a poll interval no test may depend on


@pytest.fixture
async def queue(backend: Backend) -> AsyncIterator[Queue]:
    async with Queue(backend.target("jobs"), poll_interval=NEVER) as q:
        yield q


async def test_a_worker_wakes_at_once_on_an_enqueue_in_its_process(queue: Queue) -> None:
    @queue.task
    async def double(n: int) -> int:
        return n * 2

    async with queue.worker(concurrency=4):
        # The worker is idle and waits on a poll interval of an hour: only the in-process
        # wake-up can get these done within the timeout.
        ids = [await double.enqueue(n) for n in range(5)]
        assert [await queue.result(i, timeout=30) for i in ids] == [0, 2, 4, 6, 8]
    job = await queue.get(ids[0])
    assert job is not None
    assert (job.state, job.attempts, job.result) == (JobState.SUCCEEDED, 1, 0)
    stats = await queue.refresh_stats()
    assert (stats.count("succeeded"), stats.succeeded, stats.processed, stats.failures) == (
        5,
        5,
        5,
        0,
    )


async def test_failures_are_retried_until_they_succeed(queue: Queue) -> None:
    attempts: list[int] = []

    @queue.task(retry=Retry(base=0))
    async def flaky() -> str:
        attempts.append(current_job().attempts)
        if len(attempts) < 3:
            raise ConnectionError("down")
        return "ok"

    async with queue.worker():
        job_id = await flaky.enqueue()
        assert await queue.result(job_id, timeout=30) == "ok"
    assert attempts == [1, 2, 3]
    stats = queue.stats()
    assert (stats.failures, stats.succeeded) == (2, 1)


async def test_a_job_past_max_attempts_is_dead_and_can_be_retried_by_hand(queue: Queue) -> None:
    calls: list[int] = []

    @queue.task(max_attempts=2, retry=Retry(base=0))
    async def broken() -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise ValueError(f"bad input #{len(calls)}")
        return len(calls)

    async with queue.worker():
        job_id = await broken.enqueue()
        with pytest.raises(JobFailedError, match="dead after 2 attempts") as info:
            await queue.result(job_id, timeout=30)
        assert info.value.error == "ValueError: bad input #2"
        job = await queue.get(job_id)
        assert job is not None
        assert job.state is JobState.DEAD
        assert await queue.retry(job_id)
        assert await queue.result(job_id, timeout=30) == 3
    assert not await queue.retry(job_id)  # succeeded jobs stay succeeded


async def test_backoff_holds_a_failed_job_until_its_retry_time(backend: Backend) -> None:
    clock = Clock()
    async with Queue(backend.target("jobs"), clock=clock, poll_interval=0.02) as queue:

        @queue.task(retry=Retry(base=10, jitter=0))
        async def once_failing() -> str:
            if current_job().attempts == 1:
                raise TimeoutError("slow upstream")
            return "second"

        async with queue.worker():
            job_id = await once_failing.enqueue()
            await wait_until(lambda: _is(queue, job_id, JobState.FAILED))
            job = await queue.get(job_id)
            assert job is not None
            assert job.run_at.timestamp() == pytest.approx(clock.now + 10)
            assert job.error == "TimeoutError: slow upstream"
            clock.advance(10)
            assert await queue.result(job_id, timeout=30) == "second"


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap() -> None:
    rand = random.Random(7)
    exact = Retry(base=1, factor=2, cap=100, jitter=0)
    assert [exact.delay(n) for n in (1, 2, 3, 8, 50, 5000)] == [1, 2, 4, 100, 100, 100]
    jittered = Retry(base=8, jitter=0.5)
    delays = [jittered.delay(1, rand) for _ in range(200)]
    assert all(4 <= d <= 8 for d in delays)
    assert len(set(delays)) > 100  # spread, not one value
    with pytest.raises(ValueError, match="jitter"):
        Retry(jitter=2)


async def test_cancel_stops_a_waiting_job_and_wakes_its_waiters(queue: Queue) -> None:
    @queue.task
    async def later() -> None:
        return None

    job_id = await later.enqueue()
    waiter = asyncio.create_task(queue.result(job_id))
    assert await queue.cancel(job_id)
    with pytest.raises(JobCancelledError):
        await waiter
    assert not await queue.cancel(job_id)  # already final
    assert await state_of(queue, job_id) is JobState.CANCELLED


async def test_a_running_job_stops_when_asked_and_ends_cancelled(queue: Queue) -> None:
    started = asyncio.Event()

    @queue.task
    async def long_running() -> None:
        started.set()
        await current_job().wait_for_stop()
        raise RuntimeError("stopped on request")

    async with queue.worker():
        job_id = await long_running.enqueue()
        await started.wait()
        assert not await queue.cancel(job_id)  # running: cancel can't take it
        assert await queue.stop(job_id)
        with pytest.raises(JobCancelledError):
            await queue.result(job_id, timeout=30)
    assert not await queue.stop(job_id)


async def test_a_graceful_stop_finishes_within_grace_and_hands_back_the_rest(
    queue: Queue,
) -> None:
    release = asyncio.Event()
    started: list[str] = []

    @queue.task
    async def quick() -> str:
        started.append("quick")
        await release.wait()
        return "done"

    @queue.task
    async def stubborn() -> str:
        started.append("stubborn")
        await asyncio.sleep(NEVER)
        return "never"

    worker = queue.worker(concurrency=2, grace=0.2)
    async with worker:
        a = await quick.enqueue()
        b = await stubborn.enqueue()
        await wait_until(lambda: _true(len(started) == 2))
        worker.stop()
        release.set()
    ja, jb = await queue.get(a), await queue.get(b)
    assert ja is not None
    assert jb is not None
    assert (ja.state, ja.attempts) == (JobState.SUCCEEDED, 1)
    # Handed back without using its attempt: it runs again as if never started.
    assert (jb.state, jb.attempts) == (JobState.QUEUED, 0)


async def test_higher_priority_runs_first(queue: Queue) -> None:
    order: list[str] = []

    @queue.task
    async def note(name: str) -> None:
        order.append(name)

    for name, priority in (("low", -1), ("high", 10), ("normal", 0), ("normal2", 0)):
        await queue.enqueue("note", {"name": name}, priority=priority)
    async with queue.worker(concurrency=1):
        await wait_until(lambda: _true(len(order) == 4))
    assert order == ["high", "normal", "normal2", "low"]


async def test_workers_serve_only_their_named_queues(queue: Queue) -> None:
    @queue.task(queue="mail")
    async def mail() -> str:
        return "mail"

    @queue.task
    async def other() -> str:
        return "other"

    waiting = await other.enqueue()
    async with queue.worker(queues=["mail"]):
        assert await queue.result(await mail.enqueue(), timeout=30) == "mail"
        assert await queue.result(await other.configure(queue="mail").enqueue()) == "other"
    assert await state_of(queue, waiting) is JobState.QUEUED


async def test_a_paused_queue_is_not_claimed_until_resumed(queue: Queue) -> None:
    @queue.task
    async def job() -> str:
        return "ran"

    await queue.pause("default")
    assert await queue.paused() == frozenset({"default"})
    held = await job.enqueue()
    async with queue.worker():
        # The later job of another queue ran, so the worker claimed past the paused one.
        assert await queue.result(await job.configure(queue="b").enqueue(), timeout=30)
        assert await state_of(queue, held) is JobState.QUEUED
        await queue.resume("default")
        assert await queue.result(held, timeout=30) == "ran"


async def test_a_concurrency_key_limits_running_jobs_even_within_one_batch(
    queue: Queue,
) -> None:
    running = 0
    most = 0
    gate = asyncio.Event()

    @queue.task(concurrency_key="tenant-1", concurrency_limit=2)
    async def limited() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        await gate.wait()
        running -= 1

    ids = await queue.enqueue_many([limited.job() for _ in range(6)])
    free = await queue.enqueue("limited", concurrency_key="tenant-2", concurrency_limit=5)
    async with queue.worker(concurrency=10):
        await wait_until(lambda: _true(running == 3))  # two of tenant-1, one of tenant-2
        gate.set()
        for job_id in [*ids, free]:
            await queue.result(job_id, timeout=30)
    assert most == 3


async def test_result_raises_for_a_missing_job_and_at_its_timeout(queue: Queue) -> None:
    @queue.task
    async def idle() -> None:
        return None

    with pytest.raises(JobNotFoundError):
        await queue.result(12345)
    job_id = await idle.enqueue()
    with pytest.raises(DeadlineError):
        await queue.result(job_id, timeout=0.05)


async def test_a_result_that_is_not_json_fails_the_job(queue: Queue) -> None:
    @queue.task(max_attempts=1)
    async def returns_a_set() -> set[int]:
        return {1}

    async with queue.worker():
        with pytest.raises(JobFailedError, match="JSON"):
            await queue.result(await returns_a_set.enqueue(), timeout=30)


async def test_a_task_unknown_to_the_worker_fails_its_job(backend: Backend) -> None:
    async with Queue(backend.target("jobs"), poll_interval=0.02) as producer:

        @producer.task(max_attempts=1)
        async def only_here() -> None:
            return None

        job_id = await only_here.enqueue()
        async with Queue(backend.target("jobs"), poll_interval=0.02) as other, other.worker():
            await wait_until(lambda: _is(producer, job_id, JobState.DEAD))
        job = await producer.get(job_id)
        assert job is not None
        assert "no task named 'only_here'" in (job.error or "")


async def test_finished_jobs_are_pruned_after_their_retention(backend: Backend) -> None:
    clock = Clock()
    async with Queue(backend.target("jobs"), clock=clock, retention=60) as queue:

        @queue.task
        async def job() -> int:
            return 1

        async with queue.worker():
            done = await job.enqueue()
            await queue.result(done, timeout=30)
        waiting = await job.enqueue()
        assert await queue.prune() == 0
        clock.advance(61)
        assert await queue.prune() == 1
        assert await queue.get(done) is None
        assert await queue.get(waiting) is not None  # only finished jobs are pruned


async def test_stats_count_depth_per_queue_and_state_and_the_oldest_ready_age(
    backend: Backend,
) -> None:
    clock = Clock()
    async with Queue(backend.target("jobs"), clock=clock) as queue:

        @queue.task
        async def job() -> None:
            return None

        await job.enqueue()
        clock.advance(5)
        await job.configure(queue="b").enqueue()
        await job.configure(delay=60).enqueue()
        before = queue.stats()  # nothing counted yet: it asks for a refresh and returns
        assert (before.depth, before.depth_age, before.oldest_ready_age) == ({}, None, None)
        stats = await queue.refresh_stats()
        assert [stats.count(s) for s in ("queued", "scheduled", "running")] == [2, 1, 0]
        assert stats.depth == {"default/queued": 1, "b/queued": 1, "default/scheduled": 1}
        assert stats.oldest_ready_age == pytest.approx(5)
        assert stats.depth_age is not None


async def test_stats_from_another_thread_refresh_on_the_queues_loop(backend: Backend) -> None:
    async with Queue(backend.target("jobs")) as queue:

        @queue.task
        async def job() -> None:
            return None

        await job.enqueue()
        # A metrics scrape runs in its own thread: it gets a snapshot at once, and the
        # refresh it triggers runs on the queue's loop.
        first = await asyncio.to_thread(queue.stats)
        assert first.depth_age is None
        await wait_until(lambda: _true(queue.stats().count("queued") == 1))


async def test_a_shared_database_with_dict_rows_serves_the_queue(tmp_path: Path) -> None:
    async with (
        loopsafe.open(tmp_path / "app.db", rows="dict") as db,
        Queue(db, poll_interval=NEVER) as queue,
    ):

        @queue.task
        async def job(x: int) -> int:
            return x

        async with queue.worker():
            assert await queue.result(await job.enqueue(x=4), timeout=30) == 4


async def test_current_job_outside_a_job_is_an_error() -> None:
    with pytest.raises(QueueError, match="inside a running job"):
        current_job()


async def _is(queue: Queue, job_id: int, state: JobState) -> bool:
    return await state_of(queue, job_id) is state


async def _true(value: bool) -> bool:
    return value


async def test_a_worker_rides_out_another_connection_holding_the_write_lock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "jobs.db"
    async with Queue(path, poll_interval=0.05, open_options={"busy_timeout": 0.05}) as queue:

        @queue.task
        async def job() -> str:
            return "after the lock"

        job_id = await job.enqueue()
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # as another process's long write would
            async with queue.worker():
                await wait_until(lambda: _true("claim failed" in caplog.text))
                blocker.execute("COMMIT")
                assert await queue.result(job_id, timeout=30) == "after the lock"
        finally:
            blocker.close()


async def test_a_worker_run_as_a_task_stops_gracefully_when_cancelled(queue: Queue) -> None:
    started = asyncio.Event()

    @queue.task
    async def forever() -> None:
        started.set()
        await asyncio.sleep(NEVER)

    job_id = await forever.enqueue()
    worker = queue.worker(grace=0.05)
    runner = asyncio.create_task(worker.run())
    await started.wait()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    job = await queue.get(job_id)
    assert job is not None
    assert (job.state, job.attempts) == (JobState.QUEUED, 0)


async def test_closing_the_queue_stops_its_workers(backend: Backend) -> None:
    queue = Queue(backend.target("jobs"), poll_interval=NEVER)
    await queue.open()
    worker = queue.worker()
    runner = asyncio.create_task(worker.run())
    await asyncio.sleep(0)
    await queue.close()
    await runner  # returned: stopped by close, nothing left running
    assert runner.done()
