"""A cheap fixed-bucket histogram of loop lag (recorded on the loop thread)."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

# The R10 series (10 log-spaced steps per decade, ~26% apart) from 10 us to 100 s;
# 1, 2.5 and 5 are members, so the usual Prometheus buckets are exact sub-sums.
_MANTISSAS = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)
BOUNDS: tuple[float, ...] = (
    *(round(m * 10.0**exp, 9) for exp in range(-5, 2) for m in _MANTISSAS),
    100.0,
)
PROMETHEUS_BOUNDS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


@dataclass(frozen=True, slots=True)
class LagSnapshot:
    """Loop lag since the monitor started (or was reset), in seconds."""

    count: int
    """Heartbeats recorded."""
    p50: float
    p99: float
    max: float
    mean: float
    over_threshold: int
    """Heartbeats late by at least the threshold."""
    threshold: float


class LagHistogram:
    """Counts per bucket plus sum, max and over-threshold count; no locking.

    Written by one thread (the loop's); readers see a value that may be one
    record behind, which is fine for metrics.
    """

    __slots__ = ("_counts", "count", "max", "over", "threshold", "total")

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._counts = [0] * (len(BOUNDS) + 1)
        self.count = 0
        self.total = 0.0
        self.max = 0.0
        self.over = 0

    def record(self, value: float) -> None:
        """Add one observation (seconds, >= 0)."""
        self._counts[bisect_left(BOUNDS, value)] += 1
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value
        if value >= self.threshold:
            self.over += 1

    def reset(self) -> None:
        """Forget everything recorded."""
        self._counts = [0] * (len(BOUNDS) + 1)
        self.count = 0
        self.total = 0.0
        self.max = 0.0
        self.over = 0

    def quantile(self, q: float) -> float:
        """Estimate the ``q`` quantile by linear interpolation inside its bucket."""
        counts = list(self._counts)
        n = sum(counts)
        if n == 0:
            return 0.0
        rank = q * n
        seen = 0
        for i, c in enumerate(counts):
            if c and seen + c >= rank:
                lo = BOUNDS[i - 1] if i > 0 else 0.0
                hi = BOUNDS[i] if i < len(BOUNDS) else self.max
                value = lo + (hi - lo) * max(0.0, rank - seen) / c
                return min(value, self.max)
            seen += c
        return self.max

    def cumulative(self, bounds: tuple[float, ...] = PROMETHEUS_BOUNDS) -> list[tuple[float, int]]:
        """Cumulative counts at each of ``bounds`` (each must be one of ``BOUNDS``)."""
        counts = list(self._counts)
        out: list[tuple[float, int]] = []
        running = 0
        i = 0
        for bound in bounds:
            # bisect_left put values equal to a bound into that bound's bucket: le semantics.
            end = bisect_left(BOUNDS, bound) + 1
            running += sum(counts[i:end])
            i = end
            out.append((bound, running))
        return out

    def snapshot(self) -> LagSnapshot:
        """The current percentiles and counters."""
        count = self.count
        return LagSnapshot(
            count=count,
            p50=self.quantile(0.50),
            p99=self.quantile(0.99),
            max=self.max,
            mean=self.total / count if count else 0.0,
            over_threshold=self.over,
            threshold=self.threshold,
        )
