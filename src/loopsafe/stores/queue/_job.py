"""The plain data of the queue: a job's states, a job as read back, and the records the
queue and its backend exchange (a job to insert, a claimed job, a job's outcome)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["Claimed", "Job", "JobState", "NewJob", "Outcome"]


class JobState(enum.StrEnum):
    """Where a job is in its life.

    ``queued`` (ready) and ``scheduled`` (waiting for its ``run_at``) and ``failed``
    (waiting to retry) are waiting states; ``running`` is claimed under a lease;
    ``succeeded``, ``dead`` (failed ``max_attempts`` times) and ``cancelled`` are final.
    """

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED})


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored. Times are aware UTC datetimes; ``result`` is the task's return
    value (JSON) once ``succeeded``; ``error`` is the last failure's text."""

    id: int
    task: str
    queue: str
    args: dict[str, Any]
    state: JobState
    priority: int
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: Any
    error: str | None
    unique_key: str | None
    concurrency_key: str | None
    stop_requested: bool


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of :meth:`Queue.jobs`: ``next`` is the cursor of the following page, or
    ``None`` on the last one."""

    items: list[Job]
    next: str | None


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to insert. ``payload`` is already-encoded JSON; ``run_at`` seconds since the
    epoch. ``cron_tick`` marks a recurring job's tick (inserted once per task and tick)."""

    task: str
    queue: str
    payload: str
    priority: int
    run_at: float
    max_attempts: int
    unique_key: str | None = None
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    cron_tick: float | None = None

    def row(self, now: float) -> tuple[object, ...]:
        """The values both backends insert, in their ``INSERT``'s column order: queue,
        task, payload, state (scheduled while ``run_at`` is ahead of ``now``), priority,
        run_at, max_attempts, unique_key, concurrency_key, concurrency_limit, created_at."""
        state = JobState.SCHEDULED if self.run_at > now else JobState.QUEUED
        return (
            self.queue,
            self.task,
            self.payload,
            state.value,
            self.priority,
            self.run_at,
            self.max_attempts,
            self.unique_key,
            self.concurrency_key,
            self.concurrency_limit,
            now,
        )


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job a worker holds under a lease: its outcome counts only while ``token`` holds."""

    id: int
    task: str
    payload: str
    attempts: int
    max_attempts: int
    token: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a claimed job ended, as the worker reports it.

    ``state`` is ``succeeded`` (with ``result`` as JSON text), ``failed`` (retry at
    ``retry_at``), ``dead``, ``cancelled`` (stopped when asked) or ``queued`` (handed back
    at a graceful stop without using its attempt).
    """

    id: int
    token: int
    state: JobState
    result: str | None = None
    error: str | None = None
    retry_at: float | None = None


def timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)
