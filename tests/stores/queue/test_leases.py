"""Leases: heartbeats extend them, expired ones are recovered, stale tokens are ignored."""

from __future__ import annotations

import asyncio

from loopsafe import Queue
from loopsafe.stores.queue import JobState, current_job

from ..conftest import Backend
from .helpers import Clock, fetch, fetchval, state_of, wait_until

HOUR = 3600.0


async def lease_until(queue: Queue, job_id: int) -> float:
    return float(
        await fetchval(queue, "SELECT lease_until FROM loopsafe_jobs WHERE id = ?", job_id)
    )


async def test_a_lease_that_expires_under_a_live_worker_ignores_its_late_outcome(
    backend: Backend,
) -> None:
    clock = Clock()
    async with Queue(backend.target("jobs"), clock=clock, lease=30, poll_interval=0.02) as queue:
        started = [asyncio.Event(), asyncio.Event()]
        release = [asyncio.Event(), asyncio.Event()]

        @queue.task
        async def slow() -> str:
            attempt = current_job().attempts
            started[attempt - 1].set()
            await release[attempt - 1].wait()
            return f"from attempt {attempt}"

        # The first worker never renews its lease (its heartbeat is an hour away): as if
        # it hung.
        async with queue.worker(concurrency=1, heartbeat=HOUR) as old:
            job_id = await slow.enqueue()
            await started[0].wait()
            clock.advance(31)
            recovered = await queue.recover()
            assert (recovered.retried, recovered.dead) == (1, 0)
            async with queue.worker(concurrency=1):
                await started[1].wait()
                # The first attempt finishes while the second runs; stopping its worker
                # sends its outcome, which must not count: its token is stale.
                release[0].set()
                old.stop()
                await old.wait_stopped()
                job = await queue.get(job_id)
                assert job is not None
                assert (job.state, job.attempts, job.result) == (JobState.RUNNING, 2, None)
                release[1].set()
                assert await queue.result(job_id, timeout=30) == "from attempt 2"
        job = await queue.get(job_id)
        assert job is not None
        assert (job.state, job.attempts, job.result) == (JobState.SUCCEEDED, 2, "from attempt 2")


async def test_heartbeats_keep_a_long_job_leased(backend: Backend) -> None:
    clock = Clock()
    async with Queue(backend.target("jobs"), clock=clock, lease=30) as queue:
        started = asyncio.Event()
        release = asyncio.Event()

        @queue.task
        async def long_job() -> str:
            started.set()
            await release.wait()
            return "kept"

        async with queue.worker(heartbeat=0.01):
            job_id = await long_job.enqueue()
            await started.wait()
            first = await lease_until(queue, job_id)
            clock.advance(20)
            await wait_until(lambda: _later(queue, job_id, first + 20))
            clock.advance(20)  # 40 s after the claim: past the first lease, not the renewed
            assert (await queue.recover()).retried == 0
            release.set()
            assert await queue.result(job_id, timeout=30) == "kept"


async def test_a_worker_learns_its_lease_was_lost_and_is_asked_to_stop(backend: Backend) -> None:
    clock = Clock()
    async with Queue(backend.target("jobs"), clock=clock, lease=30) as queue:
        started = asyncio.Event()
        lost: list[bool] = []

        @queue.task(max_attempts=1)
        async def hung() -> None:
            started.set()
            await current_job().wait_for_stop()
            lost.append(current_job().lost)

        async with queue.worker(heartbeat=0.01):
            job_id = await hung.enqueue()
            await started.wait()
            # The heartbeat runs every 10 ms, so leap past the lease between two of them.
            clock.advance(31)
            recovered = await queue.recover()
            assert (recovered.retried, recovered.dead) == (0, 1)  # no attempts left
            await wait_until(lambda: _true(lost == [True]))
        job = await queue.get(job_id)
        assert job is not None
        assert job.state is JobState.DEAD
        assert "lease expired" in (job.error or "")


async def test_expired_leases_are_recovered_without_a_user_task(backend: Backend) -> None:
    clock = Clock()
    async with Queue(backend.target("jobs"), clock=clock, lease=30, poll_interval=0.02) as queue:

        @queue.task
        async def job() -> str:
            return "recovered"

        job_id = await job.enqueue()
        # A worker claimed the job and died: simulate its claim with the backend directly.
        await fetch(
            queue,
            "UPDATE loopsafe_jobs SET state = 'running', attempts = 1, token = 1,"
            " lease_until = ? WHERE id = ?",
            clock.now + 30,
            job_id,
        )
        async with queue.worker(heartbeat=0.01):
            clock.advance(31)
            # The worker's own maintenance puts the job back and runs it.
            assert await queue.result(job_id, timeout=30) == "recovered"
        assert await state_of(queue, job_id) is JobState.SUCCEEDED


async def _later(queue: Queue, job_id: int, than: float) -> bool:
    return await lease_until(queue, job_id) >= than


async def _true(value: bool) -> bool:
    return value
