"""The loop side every call shares: making requests, awaiting them, expiring them.

``Database`` and ``Transaction`` both go through one ``Calls``; neither reaches into the
other.
"""

from __future__ import annotations

import asyncio
import math
from time import monotonic
from typing import Any

from loopsafe import errors
from loopsafe.engine._lane import Lane
from loopsafe.engine._options import Options
from loopsafe.engine._request import ConnectionFn, FollowUps, Op, Request
from loopsafe.engine._result import RowShape
from loopsafe.errors import ArgumentError


class Calls:
    """Requests of one Database, on the loop that opened it."""

    __slots__ = ("closed", "loop", "options", "read", "write")

    def __init__(self, loop: asyncio.AbstractEventLoop, options: Options) -> None:
        self.loop = loop
        self.options = options
        budget = options.queue_budget
        self.read = Lane("read", options.read_queue, options.readers, budget)
        self.write = Lane("write", options.write_queue, 1, budget)
        self.closed = False  # set when close() begins: no new calls

    def check(self) -> None:
        """Refuse a call before anything is queued: closed, or from a foreign event loop."""
        if self.closed:
            raise errors.ClosedError("the Database is closed")
        self.check_loop()

    def check_loop(self) -> None:
        """Raise ``WrongLoopError`` unless called on the loop that opened the Database."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self.loop:
            # Its threads answer on the loop that opened it: an answer to another loop's
            # future would raise there after the call ran, and leak the call's lane slot.
            raise errors.WrongLoopError(
                "this Database belongs to the event loop that opened it; open one per loop"
            )

    def timeout(self, timeout: float | None) -> float | None:
        """The call's timeout in seconds: its own, else the Database's default."""
        if timeout is None:
            return self.options.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise ArgumentError(f"timeout must be a number of seconds or None, not {timeout!r}")
        if not math.isfinite(timeout) or timeout < 0:
            raise ArgumentError(f"timeout must be a finite number of seconds, not {timeout!r}")
        return timeout

    def request(
        self,
        op: Op,
        timeout: float | None,
        lane: Lane | None = None,
        sql: str = "",
        params: Any = (),
        fn: ConnectionFn | None = None,
        readonly: bool = False,
        channel: FollowUps | None = None,
        shape: RowShape | None = None,
    ) -> Request:
        """A new request whose deadline is ``timeout`` seconds from now (or none)."""
        deadline = None if timeout is None else monotonic() + timeout
        future = self.loop.create_future()
        return Request(
            op, future, deadline, lane, sql, params, fn, readonly, False, channel, 0, shape
        )

    async def submit(
        self,
        lane: Lane,
        op: Op,
        timeout: float | None,
        wait: bool,
        sql: str = "",
        params: Any = (),
        fn: ConnectionFn | None = None,
        readonly: bool = False,
        outside: bool = False,
        shape: RowShape | None = None,
    ) -> Any:
        """Admit one call to ``lane``, queue it and await its result: the path of every call
        that is not in a task's ``transaction()`` (``Database`` inlines its own copy).

        One deadline (``timeout``, else the Database's default) covers the wait for a slot
        and the call. Raises ``ClosedError``, ``WrongLoopError``, ``OverloadedError``,
        ``DeadlineError``, and what the thread reported.
        """
        self.check()
        timeout = self.timeout(timeout)
        loop = self.loop
        if not lane.enter(wait):
            started = loop.time()
            await lane.acquire(loop, wait, None if timeout is None else started + timeout)
            if self.closed:
                lane.release()
                raise errors.ClosedError("the Database closed while the call waited for a slot")
            if timeout is not None:
                timeout = max(0.0, timeout - (loop.time() - started))
        deadline = None if timeout is None else monotonic() + timeout
        req = Request(
            op,
            loop.create_future(),
            deadline,
            lane,
            sql,
            params,
            fn,
            readonly,
            outside,
            None,
            0,
            shape,
        )
        lane.queue.put(req)
        return await self.wait(req, timeout)

    async def wait(self, req: Request, timeout: float | None) -> Any:
        """Await ``req``'s result; on a cancel or its deadline, stop its statement.

        Raises what the thread reported, ``DeadlineError`` at once if the deadline passes
        before a thread took the call, and ``CancelledError`` when the task is cancelled.
        """
        if timeout is None:
            try:
                return await req.fut
            except asyncio.CancelledError:
                req.stop()
                raise
        timer = self.loop.call_later(timeout, expire, req)
        try:
            return await req.fut
        except asyncio.CancelledError:
            req.stop()
            raise
        finally:
            timer.cancel()


def expire(req: Request) -> None:
    """``req``'s deadline passed (loop thread): stop it, and answer now if nobody took it."""
    req.timed_out = True
    req.stop()
    # Not yet claimed by a worker: it will never run (the worker sees it cancelled), so
    # answer now. Claimed: the worker reports what really happened — DeadlineError if the
    # statement was stopped, the result if it had already completed (a write that was
    # waiting for its group's COMMIT commits, and says so).
    if req.worker is None and not req.fut.done():
        req.fut.set_exception(errors.DeadlineError("the call's deadline passed before it ran"))


def consume(fut: asyncio.Future[Any]) -> None:
    """Mark an answer nobody awaits as seen, so asyncio doesn't log it as never retrieved."""
    if not fut.cancelled():
        fut.exception()
