"""When a failed job runs again: exponential backoff with full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Retry"]


@dataclass(frozen=True, slots=True)
class Retry:
    """Delay before attempt ``n + 1`` after ``n`` failures: a random point in
    ``[delay * (1 - jitter), delay]`` where ``delay = min(cap, base * factor ** (n - 1))``.

    Jitter spreads the retries of jobs that failed together (a dependency went down) so
    they don't come back as one burst. ``Retry(base=0)`` retries at once.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 3600.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError("Retry base and cap must not be negative")
        if self.factor < 1:
            raise ValueError("Retry factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("Retry jitter must be between 0 and 1")

    def delay(self, failures: int, rand: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th failure (``failures >= 1``)."""
        exponent = max(0, failures - 1)
        # Past ~1000 doublings float math overflows; the cap is reached long before.
        raw = self.cap if exponent > 1000 else self.base * self.factor**exponent
        delay = min(self.cap, raw)
        r = (rand or random).random()
        return delay * (1 - self.jitter * r)
