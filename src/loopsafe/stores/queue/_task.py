"""A task: an async function registered on a queue, with its default job options."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from loopsafe.stores.queue._cron import Cron
from loopsafe.stores.queue._job import NewJob
from loopsafe.stores.queue._retry import Retry

if TYPE_CHECKING:
    from loopsafe.stores.queue._queue import Queue

__all__ = ["Task", "TaskOptions"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """A task's defaults; every one but ``retry`` and ``cron`` can be overridden per enqueue."""

    queue: str = "default"
    priority: int = 0
    max_attempts: int = 5
    retry: Retry = field(default_factory=Retry)
    concurrency_key: str | None = None
    concurrency_limit: int = 1
    cron: Cron | None = None


class Task(Generic[P, R]):
    """An async function registered with ``@queue.task``.

    Calling it runs the function here and now; :meth:`enqueue` stores a job that a worker
    runs. Arguments travel as JSON: the function's parameters, bound by name.
    """

    def __init__(
        self,
        queue: Queue,
        fn: Callable[P, Awaitable[R]],
        name: str,
        options: TaskOptions,
    ) -> None:
        self.queue = queue
        self.fn = fn
        self.name = name
        self.options = options
        self._signature = inspect.signature(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
        return self.fn(*args, **kwargs)

    def arguments(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The call's arguments by parameter name; raises :class:`TypeError` if they don't
        fit the function (before anything is stored)."""
        if not args:
            self._signature.bind(**kwargs)  # the common case: already by name
            return dict(kwargs)
        return dict(self._signature.bind(*args, **kwargs).arguments)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> int:
        """Enqueue a job with the task's default options; returns its id. Same contract as
        :meth:`Queue.enqueue`."""
        return await self.queue.enqueue(self.name, self.arguments(*args, **kwargs))

    def job(self, *args: P.args, **kwargs: P.kwargs) -> NewJob:
        """A job for :meth:`Queue.enqueue_many`, with the task's default options."""
        return self.queue.job(self.name, self.arguments(*args, **kwargs))

    def configure(
        self,
        *,
        queue: str | None = None,
        priority: int | None = None,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
        unique_key: str | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
    ) -> Configured[P]:
        """This task with per-job options: ``await task.configure(delay=60).enqueue(...)``."""
        return Configured(
            self,
            {
                "queue": queue,
                "priority": priority,
                "delay": delay,
                "run_at": run_at,
                "max_attempts": max_attempts,
                "unique_key": unique_key,
                "concurrency_key": concurrency_key,
                "concurrency_limit": concurrency_limit,
            },
        )

    def __repr__(self) -> str:
        return f"<Task {self.name!r} on queue {self.options.queue!r}>"


class Configured(Generic[P]):
    """A task with per-job options, from :meth:`Task.configure`."""

    def __init__(self, task: Task[P, Any], options: dict[str, Any]) -> None:
        self._task = task
        self._options = options

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> int:
        task = self._task
        return await task.queue.enqueue(task.name, task.arguments(*args, **kwargs), **self._options)

    def job(self, *args: P.args, **kwargs: P.kwargs) -> NewJob:
        task = self._task
        return task.queue.job(task.name, task.arguments(*args, **kwargs), **self._options)
