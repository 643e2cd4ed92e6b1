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

``attach_lanes(database, name="queue")`` does the same for a :class:`~loopsafe.Database`'s
lanes (``Database.stats()``): gauges ``loopsafe_database_{read,write}_{inflight,limit}``,
labelled ``database``, so a lane filling up towards its limit shows before calls are
refused with ``OverloadedError``.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["attach", "attach_lanes", "detach"]

LANES_PREFIX = "loopsafe_database"


class _Stats(Protocol):
    def stats(self) -> Any: ...


class _Source(_Stats, Protocol):
    schema: str


class StoreCollector(Collector):
    """One per registry and prefix; reports every store attached under it, by name (the
    label ``label``). A number field is a ``default`` (counter or gauge) unless its
    metadata says otherwise."""

    def __init__(self, prefix: str, *, label: str = "store", default: str = "counter") -> None:
        self.prefix = prefix
        self.label = label
        self.default = default
        self._sources: weakref.WeakValueDictionary[str, _Stats] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def add(self, name: str, source: _Stats) -> None:
        with self._lock:
            self._sources[name] = source

    def remove(self, source: _Stats) -> None:
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
                            metric, help_text, labels=[self.label, label]
                        )
                    assert isinstance(family, GaugeMetricFamily)
                    for key, number in value.items():
                        family.add_metric([name, str(key)], float(number))
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    family = families.get(metric)
                    if family is None:
                        kind = field.metadata.get("metric", self.default)
                        cls = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
                        family = families[metric] = cls(metric, help_text, labels=[self.label])
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
    _collector(_registry(registry), prefix or f"loopsafe_{store.schema}").add(name, store)


def attach_lanes(
    database: _Stats, registry: CollectorRegistry | None = None, *, name: str = "default"
) -> None:
    """Expose ``database``'s lanes (:meth:`Database.stats`, read at scrape time) in
    ``registry`` (default: the global one) as gauges ``loopsafe_database_read_inflight``,
    ``_read_limit``, ``_write_inflight`` and ``_write_limit``, labelled ``database=name``;
    a Database already attached with that name is replaced. The registry holds the
    Database weakly. Raises :class:`ValueError` for an empty name."""
    if not name:
        raise ValueError("name must be a non-empty str")
    collector = _collector(_registry(registry), LANES_PREFIX, label="database", default="gauge")
    collector.add(name, database)


def _collector(registry: CollectorRegistry, prefix: str, **kinds: str) -> StoreCollector:
    with _collectors_lock:
        per_prefix = _collectors.setdefault(registry, {})
        collector = per_prefix.get(prefix)
        if collector is None:
            collector = per_prefix[prefix] = StoreCollector(prefix, **kinds)
            registry.register(collector)
    return collector


def detach(store: _Stats, registry: CollectorRegistry | None = None) -> None:
    """Stop exposing ``store`` (or a Database given to :func:`attach_lanes`), under every
    name and prefix it was attached with."""
    for collector in _collectors.get(_registry(registry), {}).values():
        collector.remove(store)
