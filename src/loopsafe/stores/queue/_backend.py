"""What the queue needs from storage: operations, not SQL.

A backend implements this Protocol; :class:`~loopsafe.Queue` talks to storage only through
it. Two implement it: SQLite (``_sqlite.py``) and PostgreSQL (``_postgres.py``: a claim with
``FOR UPDATE SKIP LOCKED``, ``wait_for_jobs`` woken by ``LISTEN``/``NOTIFY``), with the same
semantics — the queue's tests run on both:

- every time is seconds since the epoch, passed in by the caller (one clock, injectable);
- an outcome (complete, fail, hand back) is recorded only if the claim's token still holds,
  so a worker that lost its lease can never overwrite a newer attempt;
- ``enqueue`` joins the calling task's transaction when there is one (the job exists iff
  it commits): on SQLite the engine's transaction of the calling task, on PostgreSQL the
  asyncpg connection the caller passes (``connection=``, an addition of that backend).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from loopsafe.stores.queue._job import Claimed, NewJob, Outcome

__all__ = ["Heartbeat", "QueueBackend", "Recovered", "StateCounts"]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a heartbeat learned: jobs whose stop was requested, and jobs whose lease (token)
    no longer holds (recovered by another worker: their outcome will be ignored)."""

    stop_requested: frozenset[int]
    lost: frozenset[int]


@dataclass(frozen=True, slots=True)
class Recovered:
    """Jobs whose lease had expired: put back to retry, or ``dead`` past their attempts."""

    retried: int
    dead: int


@dataclass(frozen=True, slots=True)
class StateCounts:
    """Rows per (queue, state), and the oldest ready job's ``run_at`` (``None``: none)."""

    depth: dict[tuple[str, str], int]
    oldest_ready: float | None


class QueueBackend(Protocol):
    """Storage operations of a job queue. See the module docstring for the shared rules."""

    async def enqueue(self, jobs: Sequence[NewJob], now: float) -> list[int]:
        """Insert ``jobs`` in one transaction; return their ids in order. A job whose unique
        key is held by a waiting or running job is not inserted: its id is that job's. A
        ``cron_tick`` job already inserted for its (task, tick) gets id 0."""
        ...

    async def get(self, job_id: int) -> dict[str, Any] | None:
        """The job's row as a dict of its columns, or ``None``."""
        ...

    async def list_jobs(
        self, state: str | None, queue: str | None, before: int | None, limit: int, now: float
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` jobs' rows, newest (highest id) first, with ids below ``before``.
        ``state`` filters as :class:`Job` reports it: ``queued`` includes scheduled jobs
        whose time has come, ``scheduled`` only those still in the future."""
        ...

    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: float,
        lease_until: float,
        worker: str,
        outcomes: Sequence[Outcome] = (),
    ) -> tuple[list[Claimed], list[int]]:
        """Record ``outcomes``, then claim up to ``limit`` ready jobs (from ``queues``, or
        every queue if ``None``), skipping paused queues and concurrency keys at their
        limit, highest priority first, then oldest ``run_at``. All in one transaction.
        Returns the claims and the ids of the outcomes that were recorded (their tokens
        held)."""
        ...

    async def heartbeat(self, tokens: dict[int, int], lease_until: float) -> Heartbeat:
        """Extend the leases of the jobs in ``tokens`` (job id -> token) that still hold."""
        ...

    async def recover(self, now: float) -> Recovered:
        """Put back every running job whose lease has expired (its attempt is spent)."""
        ...

    async def cancel(self, job_id: int, now: float) -> bool:
        """Cancel a waiting job; ``False`` if it is running or already final."""
        ...

    async def request_stop(self, job_id: int) -> bool:
        """Ask a running job to stop; ``False`` if it is not running."""
        ...

    async def retry(self, job_id: int, now: float) -> bool:
        """Run a ``dead``, ``cancelled`` or ``failed`` job again now, with fresh attempts;
        ``False`` if it is in another state or its unique key is taken."""
        ...

    async def set_paused(self, queue: str, paused: bool) -> None:
        """Pause (no claims) or resume a named queue."""
        ...

    async def paused(self) -> frozenset[str]:
        """The paused queues."""
        ...

    async def prune(self, finished_before: float, limit: int) -> int:
        """Delete up to ``limit`` final jobs that finished before ``finished_before``."""
        ...

    async def counts(self, now: float) -> StateCounts:
        """Depth per queue and state, and the oldest ready job."""
        ...

    def notify(self) -> None:
        """Tell workers of this queue that jobs were enqueued (in-process: at once)."""
        ...

    @property
    def generation(self) -> int:
        """A counter bumped by every wake-up the backend hears (``notify`` here, or a
        notification from another process where the backend can hear those)."""
        ...

    async def wait_for_jobs(self, timeout: float, seen: int | None = None) -> None:
        """Return when a wake-up comes, at once if ``seen`` (a :attr:`generation` read
        before the caller last looked for work) is already stale, or after ``timeout``
        seconds, whichever is first."""
        ...
