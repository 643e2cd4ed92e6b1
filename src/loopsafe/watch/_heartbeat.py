"""The heartbeat: one timer callback per interval on the monitored loop.

Its lateness is the loop's lag. It is the only code loopsafe.watch runs on the loop,
so it must stay cheap: a clock read, a bucket increment, a timer re-arm.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from loopsafe.watch._frames import LoopBase, thread_stack
from loopsafe.watch._histogram import LagHistogram
from loopsafe.watch.report import Stack


@dataclass(frozen=True, slots=True)
class LateBeat:
    """A heartbeat that ran at least ``threshold`` late: the end of a stall."""

    due: float
    """Monotonic instant the beat was due."""
    at: float
    """Monotonic instant it ran."""
    lag: float
    since: float
    """Monotonic instant of the beat before it."""
    loop_cpu: float
    """CPU seconds the loop thread used since the beat before."""
    traced: bool
    """A trace function (debugger) was set on the loop thread."""
    threads: Mapping[int, tuple[str, Stack]] = field(default_factory=dict)
    """Other threads' names and stacks the moment the loop thread got the GIL back."""


class Heartbeat:
    """Schedules itself every ``interval`` on ``loop`` and records each beat's lag."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: float,
        threshold: float,
        histogram: LagHistogram,
        rearm: Callable[[], object] | None = None,
        wake: Callable[[], object] | None = None,
    ) -> None:
        self.loop = loop
        self.interval = interval
        self.threshold = threshold
        self.histogram = histogram
        self.rearm = rearm
        """Pushes the watchdog's alarm back; called on every beat."""
        self.wake = wake
        """Sets the watchdog's alarm off now: after a late beat, so that a watchdog
        woken by the alarm but not yet running cannot miss it (re-arming a timer
        that went off makes it unreadable again)."""
        self.paused = False
        """Set by the watchdog when it saw the loop stopped: the next beat's lag is
        the time the loop was not running, not a stall."""
        self.last_at = 0.0
        self.last_cpu = 0.0
        self.due = float("inf")
        """Monotonic instant the next beat is due (written by the loop thread only)."""
        self.thread_ident: int | None = None
        self.native_id: int | None = None
        self.base: LoopBase | None = None
        self.late: deque[LateBeat] = deque(maxlen=256)
        self.skip_idents: frozenset[int] = frozenset()
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._stopped = False

    def start(self) -> None:
        """Arm the first beat; callable from any thread."""
        if _running_loop() is self.loop:
            self._handle = self.loop.call_soon(self._first)
        else:
            self.loop.call_soon_threadsafe(self._first)

    def _first(self) -> None:
        if self._stopped:
            return
        self.thread_ident = threading.get_ident()
        self.native_id = threading.get_native_id()
        self.base = LoopBase.from_callback_caller(sys._getframe(1))
        self._beat(time.monotonic())

    def _tick(self) -> None:
        if self._stopped:
            return
        now = time.monotonic()
        lag = now - self.due
        if lag < 0.0:
            lag = 0.0
        late = False
        if self.paused:
            self.paused = False
        else:
            self.histogram.record(lag)
            if lag >= self.threshold:
                self._record_late(now, lag)
                late = True
        self._beat(now)
        if late and self.wake is not None:
            self.wake()

    def _beat(self, now: float) -> None:
        self.last_at = now
        self.last_cpu = time.thread_time()
        self.due = now + self.interval
        if self.rearm is not None:
            self.rearm()
        self._handle = self.loop.call_later(self.interval, self._tick)

    def _record_late(self, now: float, lag: float) -> None:
        # The loop thread just got the GIL back: whoever held it is still at the spot
        # where it let go, which the watchdog might not see if it runs later.
        me = threading.get_ident()
        skip = self.skip_idents
        names = {t.ident: t.name for t in threading.enumerate()}
        threads = {
            ident: (names.get(ident, f"ident {ident}"), thread_stack(frame))
            for ident, frame in sys._current_frames().items()
            if ident != me and ident not in skip
        }
        cpu = time.thread_time() - self.last_cpu
        traced = sys.gettrace() is not None
        self.late.append(LateBeat(self.due, now, lag, self.last_at, cpu, traced, threads))

    def stop(self) -> None:
        """Stop beating. On the loop thread, first count a stall still in progress."""
        self._stopped = True
        if threading.get_ident() == self.thread_ident and self.due != float("inf"):
            now = time.monotonic()
            lag = now - self.due
            if lag >= self.threshold:
                self.histogram.record(lag)
                self._record_late(now, lag)
        self.due = float("inf")
        handle, self._handle = self._handle, None
        # Off the loop thread a pending beat just finds _stopped set and does not re-arm.
        if handle is not None and _running_loop() is self.loop:
            handle.cancel()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
