"""``loopsafe.Queue``: a durable job queue with at-least-once delivery."""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast, overload

from loopsafe.errors import (
    DeadlineError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    StoreError,
    UnknownTaskError,
)
from loopsafe.stores._postgres import connect
from loopsafe.stores._store import Store, StoreTarget
from loopsafe.stores.queue._backend import QueueBackend, Recovered, StateCounts
from loopsafe.stores.queue._cron import Cron
from loopsafe.stores.queue._job import Job, JobPage, JobState, NewJob, timestamp
from loopsafe.stores.queue._options import check_job_options, resolve_run_at
from loopsafe.stores.queue._payload import decode, encode
from loopsafe.stores.queue._pg_schema import PG_MIGRATIONS
from loopsafe.stores.queue._retry import Retry
from loopsafe.stores.queue._schema import MIGRATIONS
from loopsafe.stores.queue._sqlite import SQLiteBackend
from loopsafe.stores.queue._stats import Counters, QueueStats
from loopsafe.stores.queue._task import Task, TaskOptions
from loopsafe.stores.queue._waiters import Waiters
from loopsafe.stores.queue._worker import Runtime, Worker

if TYPE_CHECKING:
    from loopsafe.stores.queue._postgres import PostgresBackend

__all__ = ["Queue"]

P = ParamSpec("P")
R = TypeVar("R")


class Queue(Store):
    """A durable job queue on one SQLite file (its own by default), or on PostgreSQL
    (``Queue("postgresql://host/db?schema=jobs")``: the same semantics across hosts).

    ``queue = Queue("var/jobs.db")`` at module level; ``@queue.task`` registers async
    functions; ``async with queue:`` opens it; ``async with queue.worker(concurrency=8):``
    runs jobs in this process (or run ``loopsafe worker module:queue``).

    Delivery is at least once: a worker holds each job under a ``lease`` (seconds, renewed
    by heartbeats while the job runs); a job whose lease expires — its worker died, hung or
    lost the file — is put back automatically and runs again, so tasks should be idempotent.

    - ``retention``: seconds a finished job (and its result) is kept before it is pruned.
    - ``max_payload``: bytes of JSON a job's arguments, or its result, may take.
    - ``poll_interval``: the longest a worker waits before looking for jobs that another
      process enqueued (an enqueue in this process wakes workers at once; on PostgreSQL a
      ``NOTIFY`` wakes them at once from any host, and polling is only the fallback).
    - ``max_delay``: the furthest ahead a job may be scheduled (farther raises
      :class:`~loopsafe.ScheduleError`).
    - ``clock``: seconds since the epoch (injectable for tests).
    """

    schema = "queue"
    migrations = MIGRATIONS
    postgres_migrations = PG_MIGRATIONS
    # A statement waits at most this long for a row lock another transaction holds (an
    # operator's open session, a stuck client), then fails (a claim: BusyError) and is
    # tried again; set on the connections, so a claim costs no extra round trip.
    postgres_settings = {"lock_timeout": "5s"}

    def __init__(
        self,
        target: StoreTarget,
        *,
        lease: float = 30.0,
        retention: float = 7 * 86400.0,
        max_payload: int = 1024 * 1024,
        poll_interval: float = 1.0,
        max_delay: float = 366 * 86400.0,
        clock: Callable[[], float] = time.time,
        open_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(target, open_options=open_options)
        for name, value in (
            ("lease", lease),
            ("retention", retention),
            ("poll_interval", poll_interval),
            ("max_delay", max_delay),
        ):
            if not value > 0 or math.isinf(value):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if max_payload < 1:
            raise ValueError("max_payload must be at least 1 byte")
        self.lease = float(lease)
        self.retention = float(retention)
        self.max_payload = max_payload
        self.poll_interval = float(poll_interval)
        self.max_delay = float(max_delay)
        self.clock = clock
        self.tasks: dict[str, Task[Any, Any]] = {}
        self._backend: QueueBackend | None = None
        self._waiters = Waiters()
        self._counters = Counters()
        self._active_workers: set[Worker] = set()
        self.stats_interval = 5.0
        self._depth: tuple[StateCounts, float, float] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refreshing: asyncio.Task[QueueStats] | None = None

    # -- tasks -------------------------------------------------------------------------------

    @overload
    def task(self, fn: Callable[P, Awaitable[R]], /) -> Task[P, R]: ...

    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        queue: str = "default",
        priority: int = 0,
        max_attempts: int = 5,
        retry: Retry | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int = 1,
        cron: str | None = None,
    ) -> Callable[[Callable[P, Awaitable[R]]], Task[P, R]]: ...

    def task(
        self,
        fn: Callable[P, Awaitable[R]] | None = None,
        /,
        *,
        name: str | None = None,
        queue: str = "default",
        priority: int = 0,
        max_attempts: int = 5,
        retry: Retry | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int = 1,
        cron: str | None = None,
    ) -> Task[P, R] | Callable[[Callable[P, Awaitable[R]]], Task[P, R]]:
        """Register an async function as a task (``@queue.task`` or ``@queue.task(...)``).

        It is registered under its function's name unless given ``name``. The options are
        its jobs' defaults (see :meth:`enqueue`); ``retry`` is the backoff between attempts;
        ``cron`` (five fields, UTC) makes it recurring: workers enqueue one job per tick,
        however many workers run, for a tick they see within a minute of its time (a cron
        task takes no arguments). Raises :class:`ValueError` for a name already taken and
        :class:`~loopsafe.ScheduleError` for a bad cron expression.
        """

        def register(fn: Callable[P, Awaitable[R]]) -> Task[P, R]:
            if not inspect_coroutine(fn):
                raise TypeError(f"a task must be an async function, not {fn!r}")
            task_name = name or fn.__name__
            if task_name in self.tasks:
                raise ValueError(f"a task named {task_name!r} is already registered")
            check_job_options(priority, max_attempts, concurrency_limit)
            options = TaskOptions(
                queue=queue,
                priority=priority,
                max_attempts=max_attempts,
                retry=retry or Retry(),
                concurrency_key=concurrency_key,
                concurrency_limit=concurrency_limit,
                cron=None if cron is None else Cron.parse(cron),
            )
            task = Task(self, fn, task_name, options)
            self.tasks[task_name] = task
            return task

        return register if fn is None else register(fn)

    # -- enqueueing --------------------------------------------------------------------------

    def job(
        self,
        task: str,
        args: dict[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int | None = None,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
        unique_key: str | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
    ) -> NewJob:
        """A job to pass to :meth:`enqueue_many`, checked now; arguments as for :meth:`enqueue`."""
        known = self.tasks.get(task)
        if known is None:
            raise UnknownTaskError(
                f"no task named {task!r} on this queue (known: {sorted(self.tasks)}); "
                f"register it with @queue.task in every process that enqueues or runs it"
            )
        if args is not None and not isinstance(args, dict):
            raise TypeError(f"a job's args are a dict of argument names, not {type(args)}")
        o = known.options
        prio = o.priority if priority is None else priority
        attempts = o.max_attempts if max_attempts is None else max_attempts
        limit = o.concurrency_limit if concurrency_limit is None else concurrency_limit
        check_job_options(prio, attempts, limit)
        key = o.concurrency_key if concurrency_key is None else concurrency_key
        return NewJob(
            task=task,
            queue=o.queue if queue is None else queue,
            payload=encode(args or {}, self.max_payload, f"the arguments of {task!r}"),
            priority=prio,
            run_at=resolve_run_at(self.clock(), delay, run_at, self.max_delay),
            max_attempts=attempts,
            unique_key=unique_key,
            concurrency_key=key,
            concurrency_limit=None if key is None else limit,
        )

    async def enqueue(
        self,
        task: str,
        args: dict[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int | None = None,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
        unique_key: str | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        connection: Any = None,
    ) -> int:
        """Store a job for ``task`` with ``args`` (a JSON-able dict of its arguments by name);
        return its id.

        - ``queue``: the named queue (a worker may serve only some queues).
        - ``priority``: higher runs first (ties: earliest ``run_at``, then oldest).
        - ``delay`` (seconds or a timedelta) or ``run_at`` (an aware datetime): not before
          then (workers look for due jobs every ``poll_interval``). A time in the past
          runs now; beyond ``max_delay`` raises :class:`~loopsafe.ScheduleError`.
        - ``max_attempts``: attempts before the job is ``dead``.
        - ``unique_key``: at most one waiting or running job per key; a duplicate returns
          the existing job's id and stores nothing.
        - ``concurrency_key`` / ``concurrency_limit``: at most ``limit`` jobs with that key
          run at once, across every process on the file.

        Inside ``async with db.transaction():`` on the Database the queue was given, the job
        is part of that transaction: it exists if and only if the transaction commits. On
        PostgreSQL pass ``connection=`` (an asyncpg connection, or one from a pool, on the
        same database and with the queue's schema on its ``search_path``): the job is
        written on it, so inside the caller's ``conn.transaction()`` it exists if and only
        if that commits, and workers are woken by the commit's ``NOTIFY``. ``connection=``
        on a queue on SQLite raises :class:`TypeError`.

        Raises :class:`~loopsafe.UnknownTaskError`, :class:`~loopsafe.PayloadError` (not
        JSON, or over ``max_payload``), :class:`~loopsafe.ScheduleError`, :class:`ValueError`
        for other bad options — all before anything is written — and the engine's errors
        for the write. A cancelled enqueue has stored the job only if its write committed
        (check with a ``unique_key`` if that matters).
        """
        new = self.job(
            task,
            args,
            queue=queue,
            priority=priority,
            delay=delay,
            run_at=run_at,
            max_attempts=max_attempts,
            unique_key=unique_key,
            concurrency_key=concurrency_key,
            concurrency_limit=concurrency_limit,
        )
        return (await self.enqueue_many([new], connection=connection))[0]

    async def enqueue_many(self, jobs: Iterable[NewJob], *, connection: Any = None) -> list[int]:
        """Store several jobs (from :meth:`job` or ``task.job(...)``) in one transaction —
        all or none — and return their ids in order. As :meth:`enqueue` otherwise
        (``connection=`` included)."""
        batch = list(jobs)
        for new in batch:
            if not isinstance(new, NewJob):
                raise TypeError(f"enqueue_many takes jobs from queue.job(...), not {new!r}")
        backend = self._storage()
        if connection is not None and not isinstance(backend, _postgres_backend()):
            raise TypeError(
                "connection= is for a queue on PostgreSQL; on SQLite enqueue inside "
                "`async with db.transaction():` on the Database the queue was given"
            )
        if not batch:
            return []
        if connection is None:
            ids = await backend.enqueue(batch, self.clock())
        else:
            pg = cast("PostgresBackend", backend)
            ids = await pg.enqueue(batch, self.clock(), connection=connection)
        backend.notify()
        return ids

    # -- reading and controlling jobs --------------------------------------------------------

    async def get(self, job_id: int) -> Job | None:
        """The job with that id, or ``None`` (never existed, or finished and pruned)."""
        row = await self._storage().get(job_id)
        return None if row is None else self._job(row)

    async def jobs(
        self,
        *,
        state: JobState | str | None = None,
        queue: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> JobPage:
        """Jobs, newest first, ``limit`` (1 to 1000) at a time, optionally only those in
        ``state`` and named ``queue``; pass the previous page's ``next`` as ``cursor``.

        Raises :class:`ValueError` for an unknown state, a limit out of range or a cursor
        this queue did not make.
        """
        wanted = None if state is None else JobState(state).value
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit must be from 1 to 1000, not {limit}")
        before = None if cursor is None else _decode_cursor(cursor)
        rows = await self._storage().list_jobs(wanted, queue, before, limit + 1, self.clock())
        items = [self._job(row) for row in rows[:limit]]
        more = len(rows) > limit
        return JobPage(items, f"j{items[-1].id}" if more and items else None)

    def _job(self, row: dict[str, Any]) -> Job:
        state = JobState(row["state"])
        if state is JobState.SCHEDULED and row["run_at"] <= self.clock():
            state = JobState.QUEUED
        created = timestamp(row["created_at"])
        run_at = timestamp(row["run_at"])
        assert created is not None
        assert run_at is not None
        return Job(
            id=row["id"],
            task=row["task"],
            queue=row["queue"],
            args=decode(row["payload"]),
            state=state,
            priority=row["priority"],
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
            run_at=run_at,
            created_at=created,
            started_at=timestamp(row["started_at"]),
            finished_at=timestamp(row["finished_at"]),
            result=decode(row["result"]),
            error=row["error"],
            unique_key=row["unique_key"],
            concurrency_key=row["concurrency_key"],
            stop_requested=bool(row["stop_requested"]),
        )

    async def result(self, job_id: int, timeout: float | None = None) -> Any:
        """Wait for the job to finish and return its result.

        A job finished by a worker of this process wakes the wait at once; one finished in
        another process is seen within ``poll_interval``. Raises
        :class:`~loopsafe.JobFailedError` if the job is ``dead`` (with its last error),
        :class:`~loopsafe.JobCancelledError` if cancelled, :class:`~loopsafe.JobNotFoundError`
        if there is no such job, and :class:`~loopsafe.DeadlineError` (a ``TimeoutError``)
        when ``timeout`` seconds pass first. Cancelling the wait leaves the job alone.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            # Listen before reading, so a finish between the read and the wait is not lost.
            fut = self._waiters.listen(job_id)
            try:
                job = await self.get(job_id)
                if job is None:
                    raise JobNotFoundError(f"no job {job_id} (never enqueued, or pruned)")
                if job.state is JobState.SUCCEEDED:
                    return job.result
                if job.state is JobState.DEAD:
                    raise JobFailedError(
                        f"job {job_id} ({job.task}) is dead after {job.attempts} attempts: "
                        f"{job.error}",
                        job_id,
                        job.error,
                    )
                if job.state is JobState.CANCELLED:
                    raise JobCancelledError(f"job {job_id} ({job.task}) was cancelled", job_id)
                wait = self.poll_interval
                if deadline is not None:
                    left = deadline - loop.time()
                    if left <= 0:
                        raise DeadlineError(f"job {job_id} did not finish within {timeout} s")
                    wait = min(wait, left)
                try:
                    await asyncio.wait_for(asyncio.shield(fut), wait)
                except TimeoutError:
                    pass
            finally:
                self._waiters.forget(job_id, fut)

    async def cancel(self, job_id: int) -> bool:
        """Cancel a waiting (queued, scheduled or failed) job; return whether it was. A
        running job is not interrupted (use :meth:`stop`); a final one stays as it is."""
        done = await self._storage().cancel(job_id, self.clock())
        if done:
            self._waiters.finished([job_id])
        return done

    async def stop(self, job_id: int) -> bool:
        """Ask a running job to stop; return whether it was running. The job sees it in
        ``current_job().stop_requested`` (at once in this process, within a heartbeat in
        another) and should return or raise soon; if it then raises, it ends ``cancelled``
        instead of being retried."""
        asked = await self._storage().request_stop(job_id)
        for worker in list(self._workers()):
            worker.request_stop(job_id)
        return asked

    async def retry(self, job_id: int) -> bool:
        """Run a ``dead``, ``cancelled`` or ``failed`` job again now, with fresh attempts;
        return whether it was put back (``False``: another state, or its unique key is held
        by another job)."""
        done = await self._storage().retry(job_id, self.clock())
        if done:
            self._storage().notify()
        return done

    async def pause(self, queue: str = "default") -> None:
        """Stop workers (in every process) from claiming jobs of a named queue; running jobs
        finish. Jobs may still be enqueued."""
        await self._storage().set_paused(queue, True)

    async def resume(self, queue: str = "default") -> None:
        """Let workers claim the queue's jobs again."""
        await self._storage().set_paused(queue, False)
        self._storage().notify()

    async def paused(self) -> frozenset[str]:
        """The names of the paused queues."""
        return await self._storage().paused()

    async def recover(self) -> Recovered:
        """Put back every job whose lease expired. Workers do this on their own every few
        seconds; call it only to hurry things along."""
        recovered = await self._storage().recover(self.clock())
        if recovered.retried:
            self._storage().notify()
        return recovered

    async def prune(self, limit: int = 10_000) -> int:
        """Delete up to ``limit`` finished jobs older than ``retention``; workers do it on
        their own. Returns how many were deleted."""
        return await self._storage().prune(self.clock() - self.retention, limit)

    async def refresh_stats(self) -> QueueStats:
        """Count the jobs in storage now and return :meth:`stats` with those counts."""
        now = self.clock()
        counts = await self._storage().counts(now)
        self._depth = (counts, now, time.monotonic())
        return self.stats()

    def stats(self) -> QueueStats:
        """A snapshot: this process's counters as of now, the depth counts as of the last
        refresh (``depth_age``). Callable from any thread (a metrics scrape); when the
        counts are older than ``stats_interval`` it asks the queue's loop to refresh them in
        the background, so the next call sees newer ones. Never waits for storage."""
        c = self._counters
        states = dict.fromkeys((s.value for s in JobState), 0)
        depth: dict[str, int] = {}
        oldest_age = depth_age = None
        if self._depth is not None:
            counts, counted_at, refreshed = self._depth
            for (queue, state), n in counts.depth.items():
                states[state] = states.get(state, 0) + n
                depth[f"{queue}/{state}"] = n
            if counts.oldest_ready is not None:
                oldest_age = max(0.0, counted_at - counts.oldest_ready)
            depth_age = time.monotonic() - refreshed
        if depth_age is None or depth_age > self.stats_interval:
            self._refresh_soon()
        return QueueStats(
            states=states,
            depth=depth,
            oldest_ready_age=oldest_age,
            depth_age=depth_age,
            processed=c.processed,
            succeeded=c.succeeded,
            failures=c.failures,
            throughput=c.throughput(),
            window=float(c.window),
        )

    # -- workers -----------------------------------------------------------------------------

    def worker(
        self,
        concurrency: int = 10,
        *,
        queues: Sequence[str] | None = None,
        grace: float = 10.0,
        heartbeat: float | None = None,
        name: str | None = None,
    ) -> Worker:
        """A worker running up to ``concurrency`` jobs at once in this process, from
        ``queues`` (default: every queue). Use it as ``async with queue.worker():`` (it
        stops gracefully on exit) or ``await worker.run()`` in a task. See :class:`Worker`.
        """
        return Worker(
            self._runtime,
            concurrency=concurrency,
            queues=queues,
            grace=grace,
            heartbeat=heartbeat,
            name=name,
        )

    # -- internals ---------------------------------------------------------------------------

    async def _opened(self) -> None:
        if self.backend == "postgresql":
            target = self.postgres
            pg = _postgres_backend()(self.pool, lambda: connect(target), target.schema)
            await pg.start()
            self._backend = pg
        else:
            self._backend = SQLiteBackend(self.database)
        self._loop = asyncio.get_running_loop()

    async def _closing(self) -> None:
        for worker in list(self._workers()):
            worker.stop()
        for worker in list(self._workers()):
            await worker.wait_stopped()
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()
        backend, self._backend = self._backend, None
        if backend is not None and not isinstance(backend, SQLiteBackend):
            await cast("PostgresBackend", backend).close()

    def _refresh_soon(self) -> None:
        loop = self._loop
        if loop is None or self._backend is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._start_refresh()
        else:
            loop.call_soon_threadsafe(self._start_refresh)

    def _start_refresh(self) -> None:
        if self._backend is None or (self._refreshing and not self._refreshing.done()):
            return
        task = asyncio.ensure_future(self.refresh_stats())
        # A failed refresh (file busy, queue closing) leaves the old counts in place.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._refreshing = task

    def _workers(self) -> set[Worker]:
        return self._active_workers

    def _storage(self) -> QueueBackend:
        backend = self._backend
        if backend is None:
            self.database  # noqa: B018 - raises the right error: not open yet, or closed
            raise StoreError("this Queue is not open")
        return backend

    def _runtime(self) -> Runtime:
        return Runtime(
            backend=self._storage(),
            tasks=self.tasks,
            clock=self.clock,
            lease=self.lease,
            retention=self.retention,
            poll_interval=self.poll_interval,
            max_payload=self.max_payload,
            counters=self._counters,
            finished=self._waiters.finished,
            workers=self._workers(),
        )


def _postgres_backend() -> type[PostgresBackend]:
    # Imported on first use: asyncpg is an optional dependency SQLite users never need.
    from loopsafe.stores.queue._postgres import PostgresBackend

    return PostgresBackend


def inspect_coroutine(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an async callable object
    )


def _decode_cursor(cursor: str) -> int:
    if not cursor.startswith("j") or not cursor[1:].isdigit() or len(cursor) > 20:
        raise ValueError("not a cursor this queue made")
    return int(cursor[1:])
