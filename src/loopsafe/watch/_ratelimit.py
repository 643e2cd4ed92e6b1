"""Which stall reports reach the log: de-duplicated by fingerprint, capped overall."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Seen:
    emitted: deque[float] = field(default_factory=deque)
    suppressed: int = 0


class RateLimiter:
    """Let through at most ``per_fingerprint`` reports of one fingerprint and at most
    ``total`` reports in all per ``period`` seconds; count the rest per fingerprint."""

    def __init__(
        self,
        per_fingerprint: int,
        total: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_fingerprint = per_fingerprint
        self.total = total
        self.period = period
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._all: deque[float] = deque()

    def admit(self, fingerprint: str) -> tuple[bool, int]:
        """Whether to emit a report now, and how many like it were held back before."""
        now = self._clock()
        horizon = now - self.period
        _expire(self._all, horizon)
        seen = self._seen.get(fingerprint)
        if seen is None:
            if len(self._seen) > 4096:
                self._prune(horizon)
            seen = self._seen[fingerprint] = _Seen()
        _expire(seen.emitted, horizon)
        if len(seen.emitted) >= self.per_fingerprint or len(self._all) >= self.total:
            seen.suppressed += 1
            return False, 0
        seen.emitted.append(now)
        self._all.append(now)
        suppressed, seen.suppressed = seen.suppressed, 0
        return True, suppressed

    def _prune(self, horizon: float) -> None:
        for key in [k for k, s in self._seen.items() if not s.suppressed]:
            _expire(self._seen[key].emitted, horizon)
            if not self._seen[key].emitted:
                del self._seen[key]


def _expire(times: deque[float], horizon: float) -> None:
    while times and times[0] <= horizon:
        times.popleft()
