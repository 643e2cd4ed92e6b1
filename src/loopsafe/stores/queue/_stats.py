"""The queue's statistics: depth from storage, throughput and failures from this process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Counters", "QueueStats"]


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A snapshot of a queue.

    The per-state totals and ``depth`` (jobs per ``(queue, state)``) count every job in the
    file, whichever process enqueued it; ``oldest_ready_age`` is how long the oldest ready
    job has waited (seconds; ``None``: nothing is ready). ``processed``, ``succeeded_total``
    and ``failures`` count jobs finished by this process's workers since the queue opened
    (a failure is any attempt that raised, retried or not); ``throughput`` is their rate
    over the last ``window`` seconds.
    """

    queued: int
    scheduled: int
    running: int
    succeeded: int
    failed: int
    dead: int
    cancelled: int
    depth: dict[tuple[str, str], int]
    oldest_ready_age: float | None
    processed: int
    succeeded_total: int
    failures: int
    throughput: float
    window: float


class Counters:
    """Jobs finished in this process, with a sliding window of per-second buckets."""

    def __init__(self, window: int = 10, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.processed = 0
        self.succeeded = 0
        self.failures = 0
        self._clock = clock
        self._buckets: dict[int, int] = {}

    def finished(self, count: int, succeeded: int, failures: int) -> None:
        self.processed += count
        self.succeeded += succeeded
        self.failures += failures
        second = int(self._clock())
        self._buckets[second] = self._buckets.get(second, 0) + count
        if len(self._buckets) > 2 * self.window:
            for key in [k for k in self._buckets if k <= second - self.window]:
                del self._buckets[key]

    def throughput(self) -> float:
        """Jobs per second over the last ``window`` whole seconds."""
        now = int(self._clock())
        done = sum(n for s, n in self._buckets.items() if now - self.window <= s < now)
        return done / self.window
