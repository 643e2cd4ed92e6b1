"""Results back to the event loop: one wake-up of the loop for many finished calls."""

from __future__ import annotations

import asyncio
from collections import deque

from loopsafe.engine._lane import Lane
from loopsafe.engine._request import Request

DRAIN_CHUNK = 64  # most futures resolved per loop iteration


class Completions:
    """Worker threads ``post`` finished requests; the loop resolves them in batches.

    A worker only asks the loop to wake (``call_soon_threadsafe``, a syscall and a context
    switch) when no wake-up is already pending, so a burst of completions costs one wake-up.
    The flag is cleared *before* the deque is drained, so an item appended during a drain
    either is seen by that drain or schedules the next one: nothing is ever stranded.
    """

    __slots__ = ("_done", "_lanes", "_loop", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop, lanes: tuple[Lane, ...]) -> None:
        self._loop = loop
        self._done: deque[Request] = deque()
        self._scheduled = False
        self._lanes = lanes  # every lane a request may name: settled, then woken, per drain

    def post(self, req: Request) -> None:
        """Hand a finished request to the loop (any thread). Each request is posted once."""
        req.answered = True
        self._done.append(req)
        if not self._scheduled:
            self._wake()

    def post_many(self, reqs: list[Request]) -> None:
        """Hand several finished requests to the loop at once (any thread)."""
        for req in reqs:
            req.answered = True
        self._done.extend(reqs)
        if not self._scheduled:
            self._wake()

    def _wake(self) -> None:
        self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:
            # The loop is closed: nobody can be awaiting these results any more. From now on
            # finished requests are dropped (a deque of length 0 keeps nothing), and
            # `_scheduled` stays set so nobody tries the closed loop again.
            self._done = deque(maxlen=0)

    def _drain(self) -> None:
        self._scheduled = False
        done = self._done
        popleft = done.popleft
        try:
            for _ in range(DRAIN_CHUNK):
                if not done:
                    break
                req = popleft()
                lane = req.lane
                if lane is not None:
                    lane.left += 1  # counted out by lane.settle() below, once per drain
                fut = req.fut
                if fut.done():
                    continue  # the caller timed out or was cancelled meanwhile
                error = req.error
                if error is None:
                    fut.set_result(req.result)
                else:
                    _fail(fut, error)
        finally:
            if done and not self._scheduled:
                # Hand the rest to the next loop iteration: the tasks woken so far, timers
                # and I/O run first, so a burst of completions never holds the loop for long.
                self._scheduled = True
                self._loop.call_soon(self._drain)
            for lane in self._lanes:
                if lane.left:
                    lane.settle()
                if lane.waiters:
                    lane.wake()


def _fail(fut: asyncio.Future[object], error: BaseException) -> None:
    try:
        fut.set_exception(error)
    except TypeError:
        # Futures refuse StopIteration (a user callable may raise it): wrap it.
        wrapped = RuntimeError(f"the callable raised {type(error).__name__}")
        wrapped.__cause__ = error
        fut.set_exception(wrapped)
