"""Prometheus metrics, read at scrape time from a private registry."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry, generate_latest

from loopsafe.watch import LoopMonitor
from tests.watch.watch_stalls import Stalls, reports_after, run, settle


def test_lag_histogram_and_stall_counters(stalls: Stalls) -> None:
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
    # The injected stall lagged the heartbeat by over 25 ms; all the others far less.
    assert value("loopsafe_loop_lag_seconds_bucket", {**labels, "le": "0.025"}) == count - 1
    assert (value("loopsafe_loop_lag_seconds_sum", labels) or 0) >= 0.025
    assert (value("loopsafe_loop_lag_max_seconds", labels) or 0) >= 0.025
    assert value("loopsafe_loop_lag_over_threshold_total", labels) == 1
    kinds = {"blocking": 1.0, "cpu": 0.0, "gc": 0.0, "gil": 0.0, "unknown": 0.0}
    for kind, expected in kinds.items():
        assert value("loopsafe_loop_stalls_total", {**labels, "kind": kind}) == expected
    assert (value("loopsafe_loop_stall_seconds_total", {**labels, "kind": "blocking"}) or 0) > 0.02
    text = generate_latest(registry).decode()
    assert "# TYPE loopsafe_loop_lag_seconds histogram" in text
    assert 'loopsafe_loop_lag_seconds_bucket{le="0.05",loop="main"}' in text


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
