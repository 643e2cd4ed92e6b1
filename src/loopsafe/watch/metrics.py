"""Prometheus metrics for loop monitors (needs ``prometheus-client``: the ``watch`` extra).

Values are read from the monitors at scrape time, so the heartbeat pays nothing for
them. Exposed series, each labelled ``loop`` (the monitor's name):

* ``loopsafe_loop_lag_seconds`` - histogram of heartbeat lag
* ``loopsafe_loop_lag_max_seconds`` - gauge, the largest lag seen
* ``loopsafe_loop_lag_over_threshold_total`` - heartbeats late past the threshold
* ``loopsafe_loop_stalls_total{kind}`` - stalls by kind (cpu, blocking, gc, gil, unknown)
* ``loopsafe_loop_stall_seconds_total{kind}`` - time spent stalled, by kind
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from loopsafe.watch._histogram import LagHistogram
from loopsafe.watch.report import StallKind

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["attach", "detach"]


class _Source(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def histogram(self) -> LagHistogram: ...
    def stall_totals(self) -> Mapping[StallKind, tuple[int, float]]: ...


class LoopCollector(Collector):
    """One per registry; reports every monitor attached to it."""

    def __init__(self) -> None:
        self._sources: weakref.WeakValueDictionary[str, _Source] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def add(self, source: _Source) -> None:
        with self._lock:
            self._sources[source.name] = source

    def remove(self, source: _Source) -> None:
        with self._lock:
            if self._sources.get(source.name) is source:
                del self._sources[source.name]

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            sources = list(self._sources.values())
        return self._families(sources)

    @staticmethod
    def _families(sources: Iterable[_Source] = ()) -> list[Metric]:
        lag = HistogramMetricFamily(
            "loopsafe_loop_lag_seconds",
            "Event-loop lag: how late each heartbeat ran.",
            labels=["loop"],
        )
        lag_max = GaugeMetricFamily(
            "loopsafe_loop_lag_max_seconds", "Largest event-loop lag seen.", labels=["loop"]
        )
        over = CounterMetricFamily(
            "loopsafe_loop_lag_over_threshold",
            "Heartbeats late by at least the stall threshold.",
            labels=["loop"],
        )
        stalls = CounterMetricFamily(
            "loopsafe_loop_stalls", "Event-loop stalls, by kind.", labels=["loop", "kind"]
        )
        stalled = CounterMetricFamily(
            "loopsafe_loop_stall_seconds",
            "Time the event loop spent stalled, by kind.",
            labels=["loop", "kind"],
        )
        for source in sources:
            hist = source.histogram
            buckets = [(_le(b), float(n)) for b, n in hist.cumulative()]
            buckets.append(("+Inf", float(hist.count)))
            lag.add_metric([source.name], buckets, sum_value=hist.total)
            lag_max.add_metric([source.name], hist.max)
            over.add_metric([source.name], hist.over)
            totals = source.stall_totals()
            for kind in StallKind:
                count, seconds = totals.get(kind, (0, 0.0))
                stalls.add_metric([source.name, kind.value], count)
                stalled.add_metric([source.name, kind.value], seconds)
        return [lag, lag_max, over, stalls, stalled]


def _le(bound: float) -> str:
    return repr(float(bound))


_collectors: weakref.WeakKeyDictionary[CollectorRegistry, LoopCollector] = (
    weakref.WeakKeyDictionary()
)
_collectors_lock = threading.Lock()


def attach(source: _Source, registry: CollectorRegistry | None = None) -> None:
    """Expose ``source`` (a LoopMonitor) in ``registry`` (default: the global one).

    A monitor with the same name already there is replaced.
    """
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    with _collectors_lock:
        collector = _collectors.get(registry)
        if collector is None:
            collector = _collectors[registry] = LoopCollector()
            registry.register(collector)
    collector.add(source)


def detach(source: _Source, registry: CollectorRegistry | None = None) -> None:
    """Stop exposing ``source``."""
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    collector = _collectors.get(registry)
    if collector is not None:
        collector.remove(source)
