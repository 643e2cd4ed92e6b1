"""A lane: a bounded queue in front of one or more connection threads (loop side)."""

from __future__ import annotations

import asyncio
import queue
from collections import deque
from typing import Any

from loopsafe import errors


class Lane:
    """Admission control for one kind of work (reads or writes).

    ``inflight`` counts calls handed to the threads and not yet drained back on the loop,
    so memory stays bounded by ``limit`` whatever the offered load. A call that finds the
    lane full fails at once with ``OverloadedError`` unless its caller asked to wait for a slot;
    waiters are served first come, first served: a freed slot is handed to the oldest
    waiter (counted in ``inflight`` on its behalf), never taken by a newcomer.
    """

    __slots__ = ("inflight", "limit", "name", "queue", "waiters")

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.inflight = 0
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.waiters: deque[asyncio.Future[None]] = deque()

    def overloaded(self) -> errors.OverloadedError:
        return errors.OverloadedError(
            f"the {self.name} queue is full ({self.limit} calls in flight); "
            "retry later, or pass wait=True to queue for a slot up to the call's timeout"
        )

    async def acquire(
        self, loop: asyncio.AbstractEventLoop, wait: bool, deadline: float | None
    ) -> None:
        """Take a slot: at once, or (``wait``) when one is handed over before ``deadline``
        (loop time). Raises ``OverloadedError`` when there is none."""
        if self.inflight < self.limit and not self.waiters:
            self.inflight += 1
            return
        if not wait:
            raise self.overloaded()
        waiter: asyncio.Future[None] = loop.create_future()
        self.waiters.append(waiter)
        timer = None
        if deadline is not None:
            timer = loop.call_at(deadline, _expire, waiter)
        try:
            await waiter
        except TimeoutError:
            self._forget(waiter)
            raise self.overloaded() from None
        except BaseException:
            handed = waiter.done() and not waiter.cancelled() and waiter.exception() is None
            if not self._forget(waiter) and handed:
                self.release()  # a slot was handed to us and we won't use it: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self) -> None:
        """A call left the lane (loop thread): hand its slot to the oldest waiter."""
        self.inflight -= 1
        if self.waiters:
            self.wake()

    def wake(self) -> None:
        """Hand free slots to waiters, oldest first (loop thread)."""
        while self.inflight < self.limit and self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                self.inflight += 1  # reserved for this waiter
                waiter.set_result(None)

    def fail_waiters(self, error: BaseException) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def _forget(self, waiter: asyncio.Future[None]) -> bool:
        try:
            self.waiters.remove(waiter)
        except ValueError:
            return False
        return True


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
