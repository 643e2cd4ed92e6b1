"""A lane: a bounded queue in front of one or more connection threads (loop side)."""

from __future__ import annotations

import asyncio
import queue
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Any

from loopsafe import errors
from loopsafe.engine._admission import Admission


class Lane:
    """Admission control for one kind of work (reads or writes).

    ``inflight`` counts calls handed to the threads and not yet drained back on the loop,
    so memory stays bounded by ``limit`` whatever the offered load. Within that bound a new
    call is also judged by time (see ``_admission``): it is refused when, from what the lane
    has observed, it could not start within ``budget`` seconds. A refused call fails at once
    with ``OverloadedError`` unless its caller asked to wait: a waiter is not judged by time
    (its own deadline bounds its wait) and queues for a slot under the count bound. Waiters
    are served first come, first served: a freed slot is handed to the oldest waiter
    (counted in ``inflight`` on its behalf), never taken by a newcomer.

    The loop counts finished calls in ``left`` as it drains them and calls :meth:`settle`
    once per drain, so a burst of completions is one observation, not one per call.
    """

    __slots__ = ("admission", "inflight", "left", "limit", "name", "queue", "waiters")

    def __init__(
        self,
        name: str,
        limit: int,
        threads: int = 1,
        budget: float | None = None,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.name = name
        self.limit = limit
        self.inflight = 0
        self.left = 0
        self.admission = Admission(budget, threads, clock)
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.waiters: deque[asyncio.Future[None]] = deque()

    def overloaded(self) -> errors.OverloadedError:
        """The error for a call refused now: the count bound, or the time budget."""
        if self.inflight >= self.limit or self.waiters:
            return errors.OverloadedError(
                f"the {self.name} queue is full ({self.limit} calls in flight); "
                "retry later, or pass wait=True to queue for a slot up to the call's timeout"
            )
        wait = self.admission.expected_wait(self.inflight)
        budget = self.admission.budget or 0.0
        return errors.OverloadedError(
            f"the {self.name} lane is behind: a new call would wait about {wait * 1e3:.0f} ms "
            f"to start, past its queue_budget of {budget * 1e3:.0f} ms; retry later, or pass "
            "wait=True to queue up to the call's timeout"
        )

    def enter(self, wait: bool) -> bool:
        """Take a slot now if the count bound and (unless ``wait``) the time budget admit a
        new call and nobody is waiting ahead of it (loop thread). Returns whether it did."""
        inflight = self.inflight
        if inflight >= self.limit or self.waiters:
            return False
        if not wait and not self.admission.admits(inflight):
            return False
        self.admission.moved(inflight, inflight + 1)
        self.inflight = inflight + 1
        return True

    async def acquire(
        self, loop: asyncio.AbstractEventLoop, wait: bool, deadline: float | None
    ) -> None:
        """Take a slot: at once, or (``wait``) when one is handed over before ``deadline``
        (loop time).

        Raises ``OverloadedError`` when ``wait`` is false and the lane refuses the call,
        ``DeadlineError`` when a waiter's deadline passes first (it never got a slot), and
        whatever :meth:`fail_waiters` hands out (``ClosedError`` at close). A waiter
        cancelled after a slot was handed to it passes the slot on.
        """
        if self.enter(wait):
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
            raise errors.DeadlineError(
                f"the call's deadline passed while it waited for a slot in the {self.name} lane"
            ) from None
        except BaseException:
            handed = waiter.done() and not waiter.cancelled() and waiter.exception() is None
            if not self._forget(waiter) and handed:
                self.release()  # a slot was handed to us and we won't use it: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self) -> None:
        """A slot comes back without its call having run (loop thread): hand it to the
        oldest waiter."""
        self.admission.moved(self.inflight, self.inflight - 1)
        self.inflight -= 1
        if self.waiters:
            self.wake()

    def settle(self) -> None:
        """Count out the ``left`` calls the loop has just finished, as one observation of
        the lane's service time (loop thread, once per drain)."""
        left = self.left
        self.left = 0
        self.admission.finished(self.inflight, left)
        self.inflight -= left

    def wake(self) -> None:
        """Hand free slots to waiters, oldest first (loop thread)."""
        while self.inflight < self.limit and self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                self.admission.moved(self.inflight, self.inflight + 1)
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
