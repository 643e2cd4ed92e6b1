"""Admission by time: could a new call start within the lane's budget? (pure logic)

The rule, in two sentences: a call that finds every thread of its lane busy is refused when
its expected wait passes the budget — the calls queued ahead of it plus one, times the mean
service time per call, divided by the threads; or, if longer, the time the lane has gone
without finishing a call while calls queue. The mean service time is the lane's busy
thread-time per finished call while calls were queued, as the event loop observes it,
smoothed by an EWMA.

Only queued periods are measured because that is the rate a queued call will see: the
readers batch fast reads and the writer commits many writes together only when calls queue,
so a lone call's cost (a thread wake-up, a COMMIT or its fsync) would overstate the wait of
a burst many times over. The EWMA is symmetric: samples are noisy (two calls finishing in
one wake-up, or in two), and a filter that follows rises faster than falls settles above the
true mean; a sudden rise is caught by the stall term instead.

Why this and not the known designs as they are: CoDel and Facebook's variant judge the time
a call has *already* queued, so the call they refuse has waited its budget first (a 503
that takes 50 ms); Netflix's gradient limits move a concurrency limit by the ratio of
round-trip times, which needs many samples per adjustment and drifts when every call is
slow. Predicting the wait from the service time and the queue refuses at once, judges
from the first measured call on, and holds for a 10 µs read and a 50 ms scan alike. The stall term
is CoDel's lesson: when nothing finishes, the estimate is out of date, and the age of the
queue is the better evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic

SMOOTHING = 0.1  # EWMA weight of one finished call: the mean follows a change within ~20 calls


class Admission:
    """What one lane has observed, and the admission rule above.

    The lane reports every change of its count of calls in flight (:meth:`moved`, and
    :meth:`finished` for calls that completed) and asks :meth:`admits` before taking a new
    call. ``budget`` is in seconds (``None``: admit whenever the count bound allows);
    ``threads`` is how many threads serve the lane. ``clock`` returns seconds (injectable so
    tests can drive the rule without timing the machine).

    Service time is measured without timing any thread: while ``n`` calls are in flight,
    ``min(n, threads)`` threads are busy, and the busy thread-seconds between two
    completions, divided by the calls that completed, is one sample of the time a call
    takes (queueing excluded) — kept only if calls queued all through the interval, or
    began to queue during it. A cold lane
    (no such sample yet) admits, and so does a lane with an idle thread, so a lane
    recovers as soon as load drops; nothing is kept per call.
    """

    __slots__ = (
        "_busy",
        "_clock",
        "_progress",
        "_queued",
        "_since",
        "budget",
        "service",
        "threads",
    )

    def __init__(
        self, budget: float | None, threads: int, clock: Callable[[], float] = monotonic
    ) -> None:
        if budget is not None and not budget > 0:
            raise ValueError("the queue budget must be positive (or None for no time bound)")
        if threads < 1:
            raise ValueError("a lane needs at least one thread")
        self.budget = budget
        self.threads = threads
        self.service: float | None = None  # seconds per call (EWMA); None until one finishes
        self._clock = clock
        self._busy = 0.0  # busy thread-seconds since the last completion
        self._queued = False  # calls queued all the time since the last completion
        self._since = clock()  # when _busy was last brought up to date
        self._progress = self._since  # the last completion, or when calls began to queue

    def admits(self, inflight: int) -> bool:
        """Whether a new call may join the ``inflight`` calls already in the lane."""
        if self.budget is None or inflight < self.threads or self.service is None:
            return True
        return self.expected_wait(inflight) <= self.budget

    def expected_wait(self, inflight: int) -> float:
        """Seconds a new call would wait for a thread, behind ``inflight`` calls."""
        queued = inflight - self.threads
        if queued < 0 or self.service is None:
            return 0.0
        estimate = (queued + 1) * self.service / self.threads
        if queued == 0:
            return estimate
        return max(estimate, self._clock() - self._progress)

    def moved(self, before: int, after: int) -> None:
        """The count of calls in flight went from ``before`` to ``after``, none finished
        (a call entered, or a slot was handed back unused)."""
        if before > self.threads and after >= self.threads:
            return  # every thread stays busy behind an existing queue: nothing to account
        now = self._advance(before)
        if before <= self.threads < after:
            # Calls begin to queue: the stall clock starts, and the next completion's sample
            # is kept (its interval may hold unqueued time, counted at the threads it busied).
            self._progress = now
            self._queued = True

    def finished(self, before: int, count: int) -> None:
        """``count`` calls of the ``before`` in flight finished, all at this instant."""
        now = self._advance(before)
        self._progress = now
        if count < 1:
            return
        sample = self._busy / count
        queued = self._queued
        self._busy = 0.0
        self._queued = before - count > self.threads
        if not queued:
            return
        service = self.service
        if service is None:
            self.service = sample
        else:
            # Each finished call weighs the same, whether it came back alone or in a batch.
            weight = 1.0 - (1.0 - SMOOTHING) ** min(count, 64)
            self.service = service + weight * (sample - service)

    def _advance(self, inflight: int) -> float:
        now = self._clock()
        if inflight <= self.threads:
            self._queued = False
        busy = inflight if inflight < self.threads else self.threads
        self._busy += busy * (now - self._since)
        self._since = now
        return now
