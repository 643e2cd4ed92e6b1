"""A heartbeat on the running event loop that reports how late work runs on it.

Each beat measures two delays and reports the larger: how late its timer ran, and
how long a callback it queues waits to run. The first sees a blocked loop (no timer
runs during a 200 ms call). The second sees a busy one: a timer due in the middle of
a loop iteration waits only for the rest of it, but a queued callback waits for
everything that was ready before it, about a whole iteration.

One timer and one queued callback per ``interval`` (a few microseconds, 100 times a
second). It is loopsafe.fastapi's own rather than loopsafe.watch's monitor so that
shedding needs no watchdog thread and no extra.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

LagCallback = Callable[[float, float], object]
"""Called on the loop with each beat's lag and the instant it was measured (monotonic
seconds)."""


class LagProbe:
    """Beats every ``interval`` seconds on one loop and passes each beat's lag on
    (the larger of its timer's lateness and its queued callback's wait).

    :meth:`ensure` starts it on the running loop, or moves it there if it was
    beating on another (an app served by one loop after another, as in tests). A
    closed loop simply stops calling it; nothing is kept per beat.
    """

    __slots__ = ("_clock", "_due", "_handle", "_loop", "interval", "on_lag")

    def __init__(
        self,
        interval: float,
        on_lag: LagCallback,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.on_lag = on_lag
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop it beats on, if started."""
        return self._loop

    def ensure(self, loop: asyncio.AbstractEventLoop) -> None:
        """Beat on ``loop`` (the running loop: call it from a task or callback there)."""
        if loop is self._loop:
            return
        self.stop()
        self._loop = loop
        self._arm(loop)

    def stop(self) -> None:
        """Stop beating (on the loop thread; a no-op if not started)."""
        handle, self._handle, self._loop = self._handle, None, None
        if handle is not None:
            handle.cancel()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = self._clock() + self.interval
        self._handle = loop.call_later(self.interval, self._beat, loop)

    def _beat(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:  # moved to another loop meanwhile
            return
        now = self._clock()
        late = max(0.0, now - self._due)
        self._arm(loop)
        loop.call_soon(self._queued, loop, late, now)

    def _queued(self, loop: asyncio.AbstractEventLoop, late: float, queued_at: float) -> None:
        if loop is not self._loop:
            return
        now = self._clock()
        self.on_lag(max(late, now - queued_at), now)
