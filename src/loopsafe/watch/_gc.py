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
"""Collections shorter than this are not kept (gen-0 collections run constantly)."""


@dataclass(frozen=True, slots=True)
class GcPause:
    """One collection long enough to matter."""

    start: float
    end: float
    generation: int
    collected: int
    thread: int
    stack: Stack
    """The stack that triggered it (the allocation, or the ``gc.collect()`` call)."""

    @property
    def duration(self) -> float:
        return self.end - self.start

    def overlap(self, start: float, end: float) -> float:
        """Seconds this pause overlaps the interval ``[start, end]``."""
        return max(0.0, min(self.end, end) - max(self.start, start))


class _Recorder:
    def __init__(self) -> None:
        self.pauses: deque[GcPause] = deque(maxlen=64)
        self._started = 0.0
        self._users = 0
        self._lock = threading.Lock()

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        # Runs on every collection, with the GIL held: keep the common path to a clock read.
        if phase == "start":
            self._started = time.monotonic()
            return
        end = time.monotonic()
        start = self._started
        if end - start < MIN_PAUSE:
            return
        stack = summarize(outer_to_inner(sys._getframe(1)))
        self.pauses.append(
            GcPause(
                start,
                end,
                int(info.get("generation", -1)),
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
        return [p for p in list(self.pauses) if p.overlap(start, end) > 0.0]


recorder = _Recorder()
"""The process-wide recorder; monitors acquire it while they run."""
