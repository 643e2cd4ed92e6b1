"""The worker: claims jobs in batches, runs them as tasks, records outcomes, keeps leases.

One loop does the storage round trips: each ``claim`` call records the outcomes gathered
since the last one and claims as many jobs as there is room for, in one transaction. A
second loop (maintenance) renews leases, recovers expired ones, prunes finished jobs and
enqueues recurring jobs' ticks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from loopsafe.errors import (
    BusyError,
    DeadlineError,
    OverloadedError,
    PayloadError,
    QueueError,
    ServerError,
)
from loopsafe.stores.queue._backend import QueueBackend
from loopsafe.stores.queue._context import JobContext, done, running
from loopsafe.stores.queue._job import Claimed, JobState, NewJob, Outcome
from loopsafe.stores.queue._payload import encode
from loopsafe.stores.queue._stats import Counters

if TYPE_CHECKING:
    from loopsafe.stores.queue._task import Task

__all__ = ["Runtime", "Worker"]

log = logging.getLogger("loopsafe.queue")

_CRON_WINDOW = 60.0  # a tick seen later than this after its time is skipped, not run late
_PRUNE_EVERY = 60.0
_PRUNE_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class Runtime:
    """What a worker needs from its queue (built when the worker starts)."""

    backend: QueueBackend
    tasks: Mapping[str, Task[Any, Any]]
    clock: Callable[[], float]
    lease: float
    retention: float
    poll_interval: float
    max_payload: int
    counters: Counters
    finished: Callable[[Iterable[int]], None]
    workers: set[Worker]


class Worker:
    """Runs a queue's jobs in this process: ``async with queue.worker(concurrency=N):``.

    It claims up to ``concurrency`` jobs at once, in batches; wakes at once when this
    process enqueues, and looks for other processes' jobs every ``poll_interval``.

    Stopping (leaving the ``async with``, :meth:`stop`, or cancelling :meth:`run`): no new
    claims; running jobs get ``grace`` seconds to finish; the rest are cancelled and handed
    back to the queue without using up their attempt. Leases are renewed every
    ``heartbeat`` seconds (default: a third of the queue's lease).
    """

    def __init__(
        self,
        runtime: Callable[[], Runtime],
        *,
        concurrency: int = 10,
        queues: Sequence[str] | None = None,
        grace: float = 10.0,
        heartbeat: float | None = None,
        name: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if grace < 0:
            raise ValueError("grace must not be negative")
        if heartbeat is not None and heartbeat <= 0:
            raise ValueError("heartbeat must be positive")
        self._resolve = runtime
        self.concurrency = concurrency
        self.queues = None if queues is None else list(queues)
        self.grace = grace
        self._heartbeat = heartbeat
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._rt: Runtime | None = None
        self._running: dict[int, tuple[Claimed, JobContext, asyncio.Task[None]]] = {}
        self._outcomes: list[Outcome] = []
        self._kick = asyncio.Event()
        self._stopping = False
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self._done: asyncio.Event | None = None
        self._cron_seen: dict[str, float] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self.run(), name=f"loopsafe worker {self.name}")
        await asyncio.sleep(0)  # let it start (and fail fast on a closed queue)
        if self._task.done():
            self._task.result()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if self._task is not None:
            await asyncio.shield(self._task)

    def stop(self) -> None:
        """Begin a graceful stop (returns at once; :meth:`wait_stopped` waits for it)."""
        self._stopping = True
        self._kick.set()

    async def wait_stopped(self) -> None:
        """Wait until :meth:`run` has returned."""
        if self._task is not None:
            await asyncio.shield(self._task)
        elif self._done is not None:
            await self._done.wait()

    def request_stop(self, job_id: int) -> None:
        """Tell a job running here that it was asked to stop."""
        entry = self._running.get(job_id)
        if entry is not None:
            entry[1].request_stop()

    async def run(self) -> None:
        """Run jobs until :meth:`stop` (or cancellation, which stops as gracefully).

        A busy file, a backed-up lane or a PostgreSQL server that fails or goes away
        (:class:`~loopsafe.ServerError`) does not stop it: it logs, waits up to a
        ``poll_interval`` and claims again, keeping the outcomes not yet recorded. Raises
        the queue's errors if it is not open, and the engine's if the file fails (after
        handing back what it can)."""
        rt = self._rt = self._resolve()
        self._done = asyncio.Event()
        rt.workers.add(self)
        maintenance = asyncio.create_task(self._maintain(rt))
        try:
            try:
                await self._loop(rt)
            except BaseException:
                # Cancelled, or the file failed: stop the jobs and hand back what we can.
                self._stopping = True
                try:
                    await self._drain(rt)
                except Exception:
                    log.exception("worker %s could not hand its jobs back", self.name)
                raise
            await self._drain(rt)
        finally:
            maintenance.cancel()
            try:
                await maintenance
            except asyncio.CancelledError:
                pass
            rt.workers.discard(self)
            self._done.set()

    # -- the claim loop ----------------------------------------------------------------------

    async def _loop(self, rt: Runtime) -> None:
        backend = rt.backend
        wake: asyncio.Task[None] | None = None
        try:
            while not self._stopping:
                seen = backend.generation
                room = self.concurrency - len(self._running)
                try:
                    claimed = await self._exchange(rt, room)
                except (BusyError, OverloadedError, DeadlineError, ServerError) as e:
                    # Another process holds the file's write lock (or a job row), this
                    # process's writes are backed up, or the PostgreSQL server is away:
                    # try again shortly rather than give up. The outcomes not recorded
                    # are kept for the next try.
                    log.warning("worker %s: claim failed (%s); retrying", self.name, e)
                    await asyncio.sleep(min(1.0, rt.poll_interval))
                    continue
                if self._stopping:
                    break
                if self._outcomes:
                    continue  # jobs finished meanwhile: record them (and refill) now
                self._kick.clear()
                if room > 0 and len(claimed) < room:
                    # Drained: wait for an enqueue here, a finished job, a stop, or the poll.
                    if wake is None or wake.done():
                        wake = asyncio.create_task(backend.wait_for_jobs(rt.poll_interval, seen))
                    kick = asyncio.create_task(self._kick.wait())
                    await asyncio.wait({wake, kick}, return_when=asyncio.FIRST_COMPLETED)
                    kick.cancel()
                elif not self._outcomes and not self._stopping:
                    await self._kick.wait()  # full: wait for a job to finish
        finally:
            if wake is not None:
                wake.cancel()

    async def _exchange(self, rt: Runtime, room: int) -> list[Claimed]:
        outcomes, self._outcomes = self._outcomes, []
        now = rt.clock()
        limit = 0 if self._stopping else room
        if limit <= 0 and not outcomes:
            return []
        try:
            claimed, recorded = await rt.backend.claim(
                self.queues, limit, now, now + rt.lease, self.name, outcomes
            )
        except BaseException:
            self._outcomes[:0] = outcomes  # not recorded: keep them for the next try
            raise
        self._settled(rt, outcomes, recorded)
        for c in claimed:
            self._start(rt, c)
        return claimed

    def _settled(self, rt: Runtime, outcomes: list[Outcome], recorded: list[int]) -> None:
        if not outcomes:
            return
        kept = set(recorded)
        final = [o.id for o in outcomes if o.id in kept and o.state.final]
        ok = sum(1 for o in outcomes if o.id in kept and o.state is JobState.SUCCEEDED)
        failures = sum(
            1 for o in outcomes if o.id in kept and o.state in (JobState.FAILED, JobState.DEAD)
        )
        done = sum(1 for o in outcomes if o.id in kept and o.state is not JobState.QUEUED)
        rt.counters.finished(done, ok, failures)
        rt.finished(final)

    def _start(self, rt: Runtime, claimed: Claimed) -> None:
        ctx = JobContext(claimed)
        task = asyncio.create_task(self._run_job(rt, claimed, ctx), name=f"job {claimed.id}")
        self._running[claimed.id] = (claimed, ctx, task)

    async def _run_job(self, rt: Runtime, c: Claimed, ctx: JobContext) -> None:
        outcome: Outcome
        token = running(ctx)
        try:
            task = rt.tasks.get(c.task)
            if task is None:
                raise QueueError(f"no task named {c.task!r} is registered in this worker")
            args = _decode_args(c.payload)
            value = await task.fn(**args)
            result = encode(value, rt.max_payload, f"the result of {c.task!r}")
            outcome = Outcome(c.id, c.token, JobState.SUCCEEDED, result=result)
        except asyncio.CancelledError:
            if not self._draining:
                raise
            # Stopped past the grace period: hand the job back with its attempt unused.
            outcome = Outcome(c.id, c.token, JobState.QUEUED)
        except Exception as exc:
            outcome = self._failure(rt, c, ctx, exc)
        finally:
            done(token)
        self._running.pop(c.id, None)
        self._outcomes.append(outcome)
        self._kick.set()

    def _failure(self, rt: Runtime, c: Claimed, ctx: JobContext, exc: Exception) -> Outcome:
        error = "".join(traceback.format_exception_only(exc)).strip()
        if isinstance(exc, PayloadError):
            error = f"{error} (returned by the task)"
        if ctx.stop_requested and not ctx.lost:
            return Outcome(c.id, c.token, JobState.CANCELLED, error=error)
        if c.attempts >= c.max_attempts:
            return Outcome(c.id, c.token, JobState.DEAD, error=error)
        task = rt.tasks.get(c.task)
        delay = task.options.retry.delay(c.attempts) if task is not None else rt.poll_interval
        return Outcome(c.id, c.token, JobState.FAILED, error=error, retry_at=rt.clock() + delay)

    async def _drain(self, rt: Runtime) -> None:
        """Graceful stop: wait ``grace`` for running jobs, cancel the rest (handed back),
        record every outcome."""
        tasks = [entry[2] for entry in self._running.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=self.grace)
        self._draining = True
        left = [entry[2] for entry in self._running.values()]
        for entry in self._running.values():
            entry[1].request_stop()
            entry[2].cancel()
        if left:
            await asyncio.wait(left)
        while self._outcomes:
            await self._exchange(rt, 0)

    # -- maintenance -------------------------------------------------------------------------

    async def _maintain(self, rt: Runtime) -> None:
        loop = asyncio.get_running_loop()
        beat = self._heartbeat or rt.lease / 3
        tick = min(beat, 1.0)
        next_beat = loop.time() + beat
        next_recover = loop.time()
        next_prune = loop.time() + _PRUNE_EVERY
        while True:
            now = loop.time()
            try:
                if now >= next_beat:
                    next_beat = now + beat
                    await self._beat(rt)
                if now >= next_recover and not self._stopping:
                    next_recover = now + min(beat, 5.0)
                    recovered = await rt.backend.recover(rt.clock())
                    if recovered.retried:
                        rt.backend.notify()
                if now >= next_prune:
                    next_prune = now + _PRUNE_EVERY
                    await rt.backend.prune(rt.clock() - rt.retention, _PRUNE_BATCH)
                if not self._stopping:
                    await self._cron(rt)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The file is busy or failing: log it and try again at the next tick.
                log.warning("worker %s: maintenance failed", self.name, exc_info=True)
            await asyncio.sleep(tick)

    async def _beat(self, rt: Runtime) -> None:
        tokens = {job_id: entry[0].token for job_id, entry in self._running.items()}
        tokens.update((o.id, o.token) for o in self._outcomes)
        if not tokens:
            return
        now = rt.clock()
        beat = await rt.backend.heartbeat(tokens, now + rt.lease)
        for job_id in beat.stop_requested:
            self.request_stop(job_id)
        for job_id in beat.lost:
            entry = self._running.get(job_id)
            if entry is not None:
                entry[1].lost = True  # another worker has it now: this outcome won't count
                entry[1].request_stop()

    async def _cron(self, rt: Runtime) -> None:
        now = rt.clock()
        due: list[NewJob] = []
        for task in rt.tasks.values():
            cron = task.options.cron
            if cron is None:
                continue
            if self.queues is not None and task.options.queue not in self.queues:
                continue
            tick = cron.latest(now)
            if tick is None or now - tick > _CRON_WINDOW or self._cron_seen.get(task.name) == tick:
                continue
            self._cron_seen[task.name] = tick
            o = task.options
            due.append(
                NewJob(
                    task=task.name,
                    queue=o.queue,
                    payload="{}",
                    priority=o.priority,
                    run_at=tick,
                    max_attempts=o.max_attempts,
                    concurrency_key=o.concurrency_key,
                    concurrency_limit=None if o.concurrency_key is None else o.concurrency_limit,
                    cron_tick=tick,
                )
            )
        if due:
            ids = await rt.backend.enqueue(due, now)
            if any(ids):
                rt.backend.notify()


def _decode_args(payload: str) -> dict[str, Any]:
    if payload == "{}":
        return {}
    args = json.loads(payload)
    if not isinstance(args, dict):
        raise QueueError("the job's payload is not an object of named arguments")
    return args
