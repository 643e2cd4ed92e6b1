"""Prometheus metrics for stores (needs ``prometheus-client``: the ``watch`` extra).

``attach(store, name="sessions")`` exposes every field of ``store.stats()`` (a frozen
dataclass), read at scrape time, so a store pays nothing between scrapes. Series are named
``{prefix}_{field}`` (the prefix defaults to ``loopsafe_{store.schema}``, e.g.
``loopsafe_cache_hits_total``) and labelled ``store`` (the ``name`` given to ``attach``):

* a number field is a counter (``_total``) unless its dataclass field says
  ``metadata={"metric": "gauge"}``;
* a ``Mapping`` field (``{"queued": 3, ...}``) is a gauge with one more label, ``key``
  (or the label named by ``metadata={"label": ...}``);
* other fields are left out.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["attach", "detach"]


class _Source(Protocol):
    schema: str

    def stats(self) -> Any: ...


class StoreCollector(Collector):
    """One per registry and prefix; reports every store attached under it, by name."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._sources: weakref.WeakValueDictionary[str, _Source] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def add(self, name: str, source: _Source) -> None:
        with self._lock:
            self._sources[name] = source

    def remove(self, source: _Source) -> None:
        with self._lock:
            for name, held in list(self._sources.items()):
                if held is source:
                    del self._sources[name]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            sources = sorted(self._sources.items())
        families: dict[str, Metric] = {}
        for name, source in sources:
            stats = source.stats()
            for field in dataclasses.fields(stats):
                value = getattr(stats, field.name)
                metric = f"{self.prefix}_{field.name}"
                help_text = f"{type(stats).__name__}.{field.name}"
                if isinstance(value, Mapping):
                    label = field.metadata.get("label", "key")
                    family = families.get(metric)
                    if family is None:
                        family = families[metric] = GaugeMetricFamily(
                            metric, help_text, labels=["store", label]
                        )
                    assert isinstance(family, GaugeMetricFamily)
                    for key, number in value.items():
                        family.add_metric([name, str(key)], float(number))
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    family = families.get(metric)
                    if family is None:
                        kind = field.metadata.get("metric", "counter")
                        cls = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
                        family = families[metric] = cls(metric, help_text, labels=["store"])
                    assert isinstance(family, GaugeMetricFamily | CounterMetricFamily)
                    family.add_metric([name], float(value))
        return list(families.values())


_collectors: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, StoreCollector]] = (
    weakref.WeakKeyDictionary()
)
_collectors_lock = threading.Lock()


def _registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    if registry is None:
        from prometheus_client import REGISTRY

        return REGISTRY
    return registry


def attach(
    store: _Source,
    registry: CollectorRegistry | None = None,
    *,
    name: str = "default",
    prefix: str | None = None,
) -> None:
    """Expose ``store``'s statistics in ``registry`` (default: the global one) under the
    label ``store=name``; a store already attached with that name and prefix is replaced.
    The registry holds the store weakly: a store that is gone stops being reported."""
    if not name:
        raise ValueError("name must be a non-empty str")
    registry = _registry(registry)
    prefix = prefix or f"loopsafe_{store.schema}"
    with _collectors_lock:
        per_prefix = _collectors.setdefault(registry, {})
        collector = per_prefix.get(prefix)
        if collector is None:
            collector = per_prefix[prefix] = StoreCollector(prefix)
            registry.register(collector)
    collector.add(name, store)


def detach(store: _Source, registry: CollectorRegistry | None = None) -> None:
    """Stop exposing ``store`` (under every name and prefix it was attached with)."""
    for collector in _collectors.get(_registry(registry), {}).values():
        collector.remove(store)
