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
    lane full fails at once with ``Overloaded`` unless its caller asked to wait for a slot.
    """

    __slots__ = ("inflight", "limit", "name", "queue", "waiters")

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.inflight = 0
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.waiters: deque[asyncio.Future[None]] = deque()

    def overloaded(self) -> errors.Overloaded:
        return errors.Overloaded(
            f"the {self.name} queue is full ({self.limit} calls in flight); "
            "retry later, or pass wait=True to queue for a slot up to the call's timeout"
        )

    async def wait_for_slot(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        """Wait (FIFO) until a slot is free or ``deadline`` passes (then ``Overloaded``)."""
        while self.inflight >= self.limit or self.waiters:
            waiter: asyncio.Future[None] = loop.create_future()
            self.waiters.append(waiter)
            timer = None
            if deadline is not None:
                delay = deadline - loop.time()
                if delay <= 0:
                    self.waiters.remove(waiter)
                    raise self.overloaded()
                timer = loop.call_later(delay, _expire, waiter)
            try:
                await waiter
            except TimeoutError:
                self._forget(waiter)
                raise self.overloaded() from None
            except BaseException:
                if not self._forget(waiter) and not waiter.cancelled():
                    self.wake()  # we were handed a slot we won't use: pass it on
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            if self.inflight < self.limit:
                return

    def _forget(self, waiter: asyncio.Future[None]) -> bool:
        try:
            self.waiters.remove(waiter)
        except ValueError:
            return False
        return True

    def wake(self) -> None:
        """Wake as many waiters as there are free slots (loop thread)."""
        free = self.limit - self.inflight
        while free > 0 and self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
