"""The running job as its task sees it: ``current_job()``."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar, Token

from loopsafe.errors import QueueError
from loopsafe.stores.queue._job import Claimed

__all__ = ["JobContext", "current_job", "done", "running"]


class JobContext:
    """The running job, as its task sees it through :func:`current_job`: its ``id``,
    ``task`` name, ``attempts`` (this one included) and ``max_attempts``; ``lost`` turns
    true when a heartbeat finds that the lease went to another worker (this attempt's
    outcome will be ignored, so the task should stop)."""

    def __init__(self, claimed: Claimed) -> None:
        self.id = claimed.id
        self.task = claimed.task
        self.attempts = claimed.attempts
        self.max_attempts = claimed.max_attempts
        self.lost = False
        self._stopped = False
        self._stop: asyncio.Event | None = None  # made on first wait: most jobs never wait

    @property
    def stop_requested(self) -> bool:
        """True once someone asked this job to stop (``queue.stop``), its worker is
        stopping past its grace period, or its lease was lost."""
        return self._stopped

    async def wait_for_stop(self) -> None:
        """Return when :attr:`stop_requested` becomes true."""
        if self._stopped:
            return
        if self._stop is None:
            self._stop = asyncio.Event()
        await self._stop.wait()

    def request_stop(self) -> None:
        """Mark the job as asked to stop (what ``queue.stop`` does, seen in this process)."""
        self._stopped = True
        if self._stop is not None:
            self._stop.set()


_current: ContextVar[JobContext | None] = ContextVar("loopsafe_job", default=None)


def current_job() -> JobContext:
    """The job the calling task is running. Raises :class:`~loopsafe.QueueError` outside
    a job."""
    ctx = _current.get()
    if ctx is None:
        raise QueueError("current_job() is only available inside a running job")
    return ctx


def running(ctx: JobContext) -> Token[JobContext | None]:
    """Make ``ctx`` the current job of the calling task; :func:`done` undoes it."""
    return _current.set(ctx)


def done(token: Token[JobContext | None]) -> None:
    _current.reset(token)
