"""Prometheus metrics, read at scrape time from a private registry."""

from __future__ import annotations

import gc
from collections.abc import Mapping

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from loopsafe.watch import LoopMonitor, StallKind, metrics
from loopsafe.watch._histogram import LagHistogram
from tests.watch.watch_stalls import Stalls, reports_after, run, settle


class Source:
    """A monitor as the collector sees it, with known values."""

    name = "main"

    def __init__(self) -> None:
        self.histogram = LagHistogram(0.02)
        for lag in (0.0004, 0.003, 0.003, 0.011, 0.0305, 0.25):
            self.histogram.record(lag)

    def stall_totals(self) -> Mapping[StallKind, tuple[int, float]]:
        return {StallKind.BLOCKING: (1, 0.25), StallKind.CPU: (1, 0.0305)}


def test_lag_histogram_and_stall_counters_are_exposed_exactly() -> None:
    registry = CollectorRegistry()
    source = Source()
    metrics.attach(source, registry)
    value = registry.get_sample_value
    labels = {"loop": "main"}
    assert value("loopsafe_loop_lag_seconds_count", labels) == 6
    buckets = {"0.001": 1, "0.0025": 1, "0.005": 3, "0.01": 3, "0.025": 4, "0.05": 5, "+Inf": 6}
    for le, count in buckets.items():
        assert value("loopsafe_loop_lag_seconds_bucket", {**labels, "le": le}) == count, le
    assert value("loopsafe_loop_lag_seconds_sum", labels) == pytest.approx(0.2979)
    assert value("loopsafe_loop_lag_max_seconds", labels) == 0.25
    assert value("loopsafe_loop_lag_over_threshold_total", labels) == 2
    kinds = {"blocking": 1.0, "cpu": 1.0, "gc": 0.0, "gil": 0.0, "unknown": 0.0}
    for kind, expected in kinds.items():
        assert value("loopsafe_loop_stalls_total", {**labels, "kind": kind}) == expected
    assert value("loopsafe_loop_stall_seconds_total", {**labels, "kind": "blocking"}) == 0.25
    text = generate_latest(registry).decode()
    assert "# TYPE loopsafe_loop_lag_seconds histogram" in text
    assert 'loopsafe_loop_lag_seconds_bucket{le="0.05",loop="main"} 5.0' in text
    metrics.detach(source, registry)
    assert value("loopsafe_loop_lag_seconds_count", labels) is None


def test_a_monitors_stall_shows_in_its_metrics(stalls: Stalls) -> None:
    registry = CollectorRegistry()

    async def main() -> LoopMonitor:
        async with LoopMonitor(0.02, metrics=registry, log=False) as monitor:
            await settle(0.1)
            stalls.sleep()
            await reports_after(monitor, 0)
        return monitor

    monitor = run("asyncio", main)
    value = registry.get_sample_value
    labels = {"loop": "main"}
    count = value("loopsafe_loop_lag_seconds_count", labels)
    assert count is not None
    assert count == monitor.snapshot().count >= 5
    assert value("loopsafe_loop_lag_seconds_bucket", {**labels, "le": "+Inf"}) == count
    # The 120 ms sleep lagged one beat past 0.1 s (other stalls, if any, are counted too).
    assert (value("loopsafe_loop_lag_seconds_bucket", {**labels, "le": "0.1"}) or 0) < count
    assert (value("loopsafe_loop_lag_max_seconds", labels) or 0) >= 0.1
    assert (value("loopsafe_loop_lag_over_threshold_total", labels) or 0) >= 1
    totals = monitor.stall_totals()
    for kind in StallKind:
        n, seconds = totals.get(kind, (0, 0.0))
        assert value("loopsafe_loop_stalls_total", {**labels, "kind": kind.value}) == n
        assert value("loopsafe_loop_stall_seconds_total", {**labels, "kind": kind.value}) == (
            pytest.approx(seconds)
        )
    assert sum(n for n, _ in totals.values()) >= 1


def test_two_monitors_share_a_registry_by_name() -> None:
    registry = CollectorRegistry()

    async def main() -> list[LoopMonitor]:
        async with (
            LoopMonitor(0.02, name="a", metrics=registry, log=False) as a,
            LoopMonitor(0.02, name="b", metrics=registry, log=False) as b,
        ):
            await settle()
        return [a, b]

    monitors = run("asyncio", main)
    assert [m.name for m in monitors] == ["a", "b"]
    for name in ("a", "b"):
        assert registry.get_sample_value("loopsafe_loop_lag_seconds_count", {"loop": name})


def test_metrics_go_away_with_the_monitor() -> None:
    registry = CollectorRegistry()

    async def main() -> None:
        async with LoopMonitor(0.02, name="gone", metrics=registry, log=False):
            await settle()

    run("asyncio", main)
    gc.collect()
    assert registry.get_sample_value("loopsafe_loop_lag_seconds_count", {"loop": "gone"}) is None
