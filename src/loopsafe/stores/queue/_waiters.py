"""Who is waiting for which job to finish, inside this process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

__all__ = ["Waiters"]


class Waiters:
    """Futures per job id, resolved when a worker of this process (or a ``cancel``) makes
    the job final. A waiter registers *before* it reads the job's state, so a finish that
    lands between its read and its wait still wakes it."""

    def __init__(self) -> None:
        self._by_job: dict[int, list[asyncio.Future[None]]] = {}

    def listen(self, job_id: int) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._by_job.setdefault(job_id, []).append(fut)
        return fut

    def forget(self, job_id: int, fut: asyncio.Future[None]) -> None:
        waiters = self._by_job.get(job_id)
        if waiters is not None and fut in waiters:
            waiters.remove(fut)
            if not waiters:
                del self._by_job[job_id]

    def finished(self, job_ids: Iterable[int]) -> None:
        for job_id in job_ids:
            for fut in self._by_job.pop(job_id, ()):
                if not fut.done():
                    fut.set_result(None)
