"""LagLimit: the limit on requests in flight follows the loop's lag, window by window.

Lags and instants are injected: nothing here times the machine.
"""

from __future__ import annotations

import pytest

from loopsafe.fastapi._limit import LagLimit

TARGET = 0.005
WINDOW = 0.125  # and its beats: binary fractions, so that sums of instants are exact
BEATS = 8


class Beats:
    """Feeds a limit one heartbeat every WINDOW / BEATS seconds."""

    def __init__(self, limit: LagLimit) -> None:
        self.limit = limit
        self.now = 0.0
        limit.observe(0.0, 0, self.now)  # the first beat opens the first window

    def window(self, lags: list[float], inflight: int = 0) -> None:
        assert len(lags) == BEATS
        for lag in lags:
            self.now += WINDOW / BEATS
            self.limit.observe(lag, inflight, self.now)


def _limit(**kwargs: int) -> tuple[LagLimit, Beats]:
    limit = LagLimit(target=TARGET, window=WINDOW, **kwargs)
    return limit, Beats(limit)


def test_an_idle_loop_keeps_the_full_limit() -> None:
    limit, beats = _limit(max_limit=64)
    for _ in range(50):
        beats.window([0.0002] * BEATS)
    assert limit.limit == 64
    assert not limit.state().lagging


def test_one_late_beat_per_window_is_not_overload() -> None:
    # A host that takes the CPU away for 40 ms, or a GC pause, delays one beat.
    limit, beats = _limit(max_limit=64)
    for _ in range(20):
        beats.window([0.04] + [0.0005] * (BEATS - 1), inflight=60)
    assert limit.limit == 64
    assert not limit.state().lagging


def test_a_window_of_late_beats_cuts_the_limit_below_what_was_in_flight() -> None:
    limit, beats = _limit(max_limit=1024, min_limit=4)
    beats.window([0.02] * BEATS, inflight=100)
    assert limit.limit == 90
    assert limit.admits(89)
    assert not limit.admits(90)
    state = limit.state()
    assert state.lagging
    assert state.lag == pytest.approx(0.02)
    for _ in range(100):
        beats.window([0.02] * BEATS, inflight=limit.limit)
    assert limit.limit == 4, "never below min_limit"
    assert limit.admits(3)


def test_it_recovers_only_once_the_lag_is_under_half_the_target() -> None:
    limit, beats = _limit(max_limit=256, min_limit=4)
    beats.window([0.02] * BEATS, inflight=40)
    cut = limit.limit
    assert cut == 36
    for _ in range(10):  # between half the target and the target: hold
        beats.window([0.004] * BEATS, inflight=cut)
    assert limit.limit == cut
    assert limit.state().lagging
    beats.window([0.001] * BEATS, inflight=cut)
    assert limit.limit > cut
    assert not limit.state().lagging
    for _ in range(30):
        beats.window([0.001] * BEATS)
    assert limit.limit == 256, "grows back to max_limit, and no further"


def test_min_limit_requests_are_always_admitted() -> None:
    limit, beats = _limit(min_limit=8)
    for _ in range(10):
        beats.window([0.5] * BEATS, inflight=2)
    assert limit.limit == 8
    assert all(limit.admits(n) for n in range(8))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target": 0.0},
        {"target": float("inf")},
        {"window": -1.0},
        {"window": float("nan")},
        {"min_limit": 0},
        {"min_limit": 10, "max_limit": 5},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        LagLimit(**kwargs)  # type: ignore[arg-type]
