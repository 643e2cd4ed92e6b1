"""The queue's statistics: depth from storage, throughput and failures from this process.

The fields follow the stores' metrics convention (``loopsafe.stores.metrics.attach``): a
number is a counter unless its metadata says ``gauge``; a mapping is a gauge with one label.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["Counters", "QueueStats"]

_GAUGE = {"metric": "gauge"}


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A snapshot of a queue.

    ``states`` (jobs per state, every queue) and ``depth`` (jobs per ``"queue/state"``)
    count every job in the file, whichever process enqueued it, as of ``depth_age``
    seconds ago; ``oldest_ready_age`` is how long the oldest ready job has waited (``None``:
    nothing is ready). ``processed``, ``succeeded`` and ``failures`` count jobs finished by
    this process's workers since the queue was created (a failure is any attempt that
    raised, retried or not); ``throughput`` is their rate, per second, over the last
    ``window`` seconds.
    """

    states: Mapping[str, int] = field(metadata={"metric": "gauge", "label": "state"})
    depth: Mapping[str, int] = field(metadata={"metric": "gauge", "label": "queue_state"})
    oldest_ready_age: float | None = field(metadata=_GAUGE)
    depth_age: float | None = field(metadata=_GAUGE)
    processed: int
    succeeded: int
    failures: int
    throughput: float = field(metadata=_GAUGE)
    window: float = field(metadata=_GAUGE)

    def count(self, state: str) -> int:
        """Jobs in ``state`` (``"queued"``, ``"running"``, ...) across every queue."""
        return self.states.get(state, 0)


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
        done = sum(n for s, n in list(self._buckets.items()) if now - self.window <= s < now)
        return done / self.window
