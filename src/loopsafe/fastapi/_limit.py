"""An adaptive limit on requests in flight, driven by the event loop's lag.

The rule is CoDel's: a queue is a problem only when it does not drain. A single late
heartbeat (a garbage collection, a host that took the CPU away for 30 ms) says
nothing; a whole window in which *every* beat was late means work is waiting on the
loop faster than it runs. So the limit reacts to the smallest lag of each window,
never to one beat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BACKOFF = 0.9
"""Factor the limit is cut by after a window of lag over target."""
GROWTH = 0.25
"""Share the limit grows by after a window of lag under half the target."""


@dataclass(frozen=True, slots=True)
class LimitState:
    """What the limit decided at the end of its last window."""

    limit: int
    """Requests admitted in flight at once."""
    lag: float
    """The smallest heartbeat lag of the last window, in seconds (0.0 before the first)."""
    lagging: bool
    """Whether the last windows put the loop over its target (until it recovers below
    half the target)."""


class LagLimit:
    """Admit a request while fewer than :attr:`limit` are in flight; adapt the limit
    to the loop's lag once per ``window`` seconds.

    At the end of each window (fed by :meth:`observe`, one call per heartbeat):

    * the smallest lag of the window at or above ``target``: the loop has a standing
      queue. The limit is cut to ``BACKOFF`` (90%) of the most requests that were in
      flight during the window (so the cut bites at once, whatever the limit was),
      never below ``min_limit``.
    * under ``target / 2``: the loop has room again; the limit grows by a quarter
      (at least 1), up to ``max_limit``.
    * in between: the limit stays (hysteresis: it neither flaps nor creeps back into
      the overload it just left).

    ``min_limit`` requests in flight are always admitted: a quiet service is never
    shed, whatever its loop's lag (a loop slowed by something other than its
    requests is not helped by refusing them).

    Raises:
        ValueError: a setting out of range (not finite, ``target``/``window`` not
            positive, ``min_limit`` under 1 or over ``max_limit``).
    """

    __slots__ = (
        "_end",
        "_floor",
        "_lagging",
        "_last",
        "_limit",
        "_peak",
        "max_limit",
        "min_limit",
        "target",
        "window",
    )

    def __init__(
        self,
        *,
        target: float = 0.005,
        window: float = 0.1,
        min_limit: int = 8,
        max_limit: int = 1024,
    ) -> None:
        for name, value in (("target", target), ("window", window)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if not 1 <= min_limit <= max_limit:
            raise ValueError(
                f"need 1 <= min_limit <= max_limit, not min_limit={min_limit!r}, "
                f"max_limit={max_limit!r}"
            )
        self.target = target
        self.window = window
        self.min_limit = min_limit
        self.max_limit = max_limit
        self._limit = max_limit
        self._lagging = False
        self._last = 0.0
        self._floor = math.inf
        self._peak = 0
        self._end: float | None = None

    @property
    def limit(self) -> int:
        """Requests admitted in flight at once, now."""
        return self._limit

    def admits(self, inflight: int) -> bool:
        """Whether one more request may start while ``inflight`` are running."""
        return inflight < self._limit

    def state(self) -> LimitState:
        """The limit, the last window's lag and whether the loop counts as lagging."""
        return LimitState(self._limit, self._last, self._lagging)

    def observe(self, lag: float, inflight: int, now: float) -> None:
        """Record one heartbeat: ``lag`` seconds late, at monotonic instant ``now``,
        with ``inflight`` requests running. Ends the window when it is over."""
        if self._end is None:  # the first beat opens the first window
            self._end = now + self.window
            return
        if lag < self._floor:
            self._floor = lag
        if inflight > self._peak:
            self._peak = inflight
        if now < self._end:
            return
        floor, peak = self._floor, self._peak
        self._floor, self._peak = math.inf, inflight
        self._end = now + self.window
        self._last = floor
        if floor >= self.target:
            self._lagging = True
            self._limit = max(self.min_limit, min(self._limit, int(peak * BACKOFF)))
        elif floor < self.target / 2:
            self._lagging = False
            self._limit = min(self.max_limit, self._limit + max(1, int(self._limit * GROWTH)))
