"""Several worker processes on one file (or PostgreSQL schema), a worker killed with kill -9,
the worker command."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopsafe import Queue
from loopsafe.stores.queue import JobState

from ..conftest import Backend
from .helpers import fetchval, state_of, wait_until

ROOT = Path(__file__).resolve().parents[3]


def producer(path: str, lease: float = 30.0) -> Queue:
    """A queue with the task names of ``app.py`` (their bodies run in the workers)."""
    queue = Queue(path, lease=lease, poll_interval=0.05)

    @queue.task
    async def work(n: int, pause: float = 0.0) -> int:
        raise AssertionError("runs in a worker process")

    @queue.task(concurrency_key="shared", concurrency_limit=2)
    async def limited(pause: float) -> int:
        raise AssertionError("runs in a worker process")

    @queue.task
    async def until_stopped() -> str:
        raise AssertionError("runs in a worker process")

    return queue


class Workers:
    def __init__(self, target: str, lease: float) -> None:
        self.target = target
        self.env = {
            **os.environ,
            "LOOPSAFE_TEST_QUEUE": target,
            "LOOPSAFE_TEST_LEASE": str(lease),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "loopsafe", "worker", "tests.stores.queue.app:queue", *args],
            cwd=ROOT,
            env=self.env,
            stderr=subprocess.PIPE,
        )
        self.procs.append(proc)
        return proc

    def check(self) -> None:
        """Fail at once, with its stderr, if a worker process died."""
        for proc in self.procs:
            if proc.poll() is not None and proc.returncode not in (0, -signal.SIGKILL):
                err = proc.stderr.read().decode() if proc.stderr is not None else ""
                raise AssertionError(f"a worker exited with {proc.returncode}:\n{err}")

    async def results(self, queue: Queue, ids: list[int], limit: float = 60.0) -> list[object]:
        """The jobs' results, watching that the workers stay alive meanwhile."""
        waiting = asyncio.ensure_future(
            asyncio.gather(*(queue.result(i, timeout=limit) for i in ids))
        )
        try:
            while not waiting.done():
                self.check()
                await asyncio.wait({waiting}, timeout=0.2)
            return list(waiting.result())
        finally:
            waiting.cancel()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


@pytest.fixture
def workers(backend: Backend) -> Iterator[Workers]:
    w = Workers(backend.target("jobs"), lease=2.0)
    yield w
    w.close()


async def count(queue: Queue, state: JobState) -> int:
    return int(
        await fetchval(queue, "SELECT count(*) FROM loopsafe_jobs WHERE state = ?", state.value)
    )


async def test_several_worker_processes_share_one_file_and_its_concurrency_limits(
    workers: Workers,
) -> None:
    async with producer(workers.target, lease=2.0) as queue:
        for _ in range(3):
            workers.start("--concurrency", "4")
        work = queue.tasks["work"]
        ids = await queue.enqueue_many([work.job(n=n, pause=0.002) for n in range(300)])
        limited = await queue.enqueue_many(
            [queue.tasks["limited"].job(pause=0.03) for _ in range(12)]
        )
        results = await workers.results(queue, ids)
        assert results == [2 * n for n in range(300)]
        seen = [int(str(n)) for n in await workers.results(queue, limited)]
        # Each limited job looked at how many with its key were running in any process.
        assert max(seen) <= 2
        for proc in workers.procs:
            proc.send_signal(signal.SIGTERM)
        assert [proc.wait(timeout=30) for proc in workers.procs] == [0, 0, 0]


async def test_a_worker_killed_mid_batch_loses_no_job(workers: Workers) -> None:
    async with producer(workers.target, lease=2.0) as queue:
        work = queue.tasks["work"]
        ids = await queue.enqueue_many([work.job(n=n, pause=0.01) for n in range(400)])
        victim = workers.start("--concurrency", "16")
        await wait_until(lambda: _at_least(workers, queue, JobState.SUCCEEDED, 50))
        assert await count(queue, JobState.RUNNING) > 0  # it dies holding claimed jobs
        victim.kill()  # SIGKILL: no cleanup, no hand-back
        victim.wait()
        assert await count(queue, JobState.SUCCEEDED) < 400
        # A new worker recovers the dead one's expired leases and finishes everything.
        workers.start("--concurrency", "16")
        results = await workers.results(queue, ids)
        assert results == [2 * n for n in range(400)]
        assert await count(queue, JobState.SUCCEEDED) == 400
        jobs = [await queue.get(i) for i in ids]
        assert {j.state for j in jobs if j is not None} == {JobState.SUCCEEDED}
        assert max(j.attempts for j in jobs if j is not None) == 2  # the recovered ones


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_the_worker_command_stops_gracefully_on_a_signal_and_hands_jobs_back(
    workers: Workers, sig: signal.Signals
) -> None:
    async with producer(workers.target) as queue:
        job_id = await queue.enqueue("until_stopped")
        proc = workers.start("--concurrency", "2", "--grace", "0.3")
        await wait_until(lambda: _is(queue, job_id, JobState.RUNNING))
        proc.send_signal(sig)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        job = await queue.get(job_id)
        assert job is not None
        assert (job.state, job.attempts) == (JobState.QUEUED, 0)


def test_the_worker_command_reports_a_bad_target() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "loopsafe", "worker", "tests.stores.queue.app:nothing"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "no attribute 'nothing'" in run.stderr


async def _at_least(workers: Workers, queue: Queue, state: JobState, n: int) -> bool:
    workers.check()
    return await count(queue, state) >= n


async def _is(queue: Queue, job_id: int, state: JobState) -> bool:
    return await state_of(queue, job_id) is state
