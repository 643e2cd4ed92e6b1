"""Timing garbage-collection pauses with ``gc.callbacks`` (one hook per process)."""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from loopsafe.watch._frames import outer_to_inner, summarize
from loopsafe.watch.report import Stack

MIN_PAUSE = 0.002
"""Full collections shorter than this (in CPU time) are not kept."""


@dataclass(frozen=True, slots=True)
class GcPause:
    """One full collection long enough to matter."""

    start: float
    end: float
    """Monotonic instants of the start and stop callbacks."""
    cpu: float
    """CPU time the collecting thread spent in between: the collection itself. Wall
    time can be longer: the thread may be descheduled, or wait for the GIL inside
    the callbacks (they are Python code), which is not collecting."""
    generation: int
    collected: int
    thread: int
    stack: Stack
    """The stack that triggered it (the allocation, or the ``gc.collect()`` call)."""

    @property
    def duration(self) -> float:
        return self.cpu

    def overlap(self, start: float, end: float) -> float:
        """Seconds of collecting that fell inside ``[start, end]``, spreading the CPU
        time evenly over the wall interval."""
        wall = self.end - self.start
        inside = max(0.0, min(self.end, end) - max(self.start, start))
        return self.cpu * inside / wall if wall > 0 else 0.0


class _Recorder:
    def __init__(self) -> None:
        self.pauses: deque[GcPause] = deque(maxlen=64)
        self._started = 0.0
        self._started_cpu = 0.0
        self._users = 0
        self._lock = threading.Lock()

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        # Runs on every collection: only full collections can pause for long (the
        # younger generations are bounded by the allocation thresholds).
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.monotonic()
            self._started_cpu = time.thread_time()
            return
        cpu = time.thread_time() - self._started_cpu
        if cpu < MIN_PAUSE:
            return
        end = time.monotonic()
        stack = summarize(outer_to_inner(sys._getframe(1)))
        self.pauses.append(
            GcPause(
                self._started,
                end,
                cpu,
                2,
                int(info.get("collected", 0)),
                threading.get_ident(),
                stack,
            )
        )

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1 and self.callback not in gc.callbacks:
                gc.callbacks.append(self.callback)

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users <= 0:
                self._users = 0
                if self.callback in gc.callbacks:
                    gc.callbacks.remove(self.callback)

    def overlapping(self, start: float, end: float) -> list[GcPause]:
        return [p for p in list(self.pauses) if p.start < end and p.end > start]


recorder = _Recorder()
"""The process-wide recorder; monitors acquire it while they run."""
