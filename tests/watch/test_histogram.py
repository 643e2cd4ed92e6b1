"""The lag histogram: quantiles within a bucket, cumulative buckets exact."""

from __future__ import annotations

import statistics

from hypothesis import given
from hypothesis import strategies as st

from loopsafe.watch._histogram import BOUNDS, PROMETHEUS_BOUNDS, LagHistogram

lags = st.lists(st.floats(min_value=0.0, max_value=5.0, allow_nan=False), min_size=1, max_size=300)


def test_prometheus_bounds_are_histogram_bounds() -> None:
    assert all(b in BOUNDS for b in PROMETHEUS_BOUNDS)
    assert list(BOUNDS) == sorted(BOUNDS)


def test_empty_histogram() -> None:
    snap = LagHistogram(0.02).snapshot()
    assert (snap.count, snap.p50, snap.p99, snap.max, snap.over_threshold) == (0, 0, 0, 0, 0)


@given(lags)
def test_counts_max_and_threshold(values: list[float]) -> None:
    hist = LagHistogram(0.02)
    for v in values:
        hist.record(v)
    snap = hist.snapshot()
    assert snap.count == len(values)
    assert snap.max == max(values)
    assert snap.over_threshold == sum(v >= 0.02 for v in values)
    assert abs(snap.mean - statistics.fmean(values)) < 1e-9
    assert 0.0 <= snap.p50 <= snap.p99 <= snap.max


@given(lags)
def test_quantile_is_within_its_bucket(values: list[float]) -> None:
    hist = LagHistogram(0.02)
    for v in values:
        hist.record(v)
    ordered = sorted(values)
    for q in (0.5, 0.99):
        exact = ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))]
        estimate = hist.quantile(q)
        # One R10 bucket is at most 28% wide (plus everything under 10 us).
        assert estimate <= max(exact * 1.3, 1e-5) + 1e-12
        assert estimate >= exact / 1.3 - 1e-5


@given(lags)
def test_cumulative_buckets_use_le_semantics(values: list[float]) -> None:
    hist = LagHistogram(0.02)
    for v in values:
        hist.record(v)
    cumulative = hist.cumulative()
    for bound, count in cumulative:
        assert count == sum(v <= bound for v in values)
    counts = [c for _, c in cumulative]
    assert counts == sorted(counts)


def test_reset() -> None:
    hist = LagHistogram(0.02)
    hist.record(0.5)
    hist.reset()
    assert hist.snapshot().count == 0
    assert hist.max == 0.0
