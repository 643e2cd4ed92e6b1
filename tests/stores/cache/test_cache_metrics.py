"""Store statistics through Prometheus (loopsafe.stores.metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from loopsafe import Cache, Flags
from loopsafe.stores import metrics

from ..conftest import Backend


async def test_stats_are_read_at_scrape_time(backend: Backend) -> None:
    registry = CollectorRegistry()
    async with Cache(backend.target("c")) as cache, Flags(backend.target("f")) as flags:
        metrics.attach(cache, registry, name="pages")
        metrics.attach(flags, registry, name="features")
        await cache.set("k", b"12345")
        await cache.get("k")
        await cache.get("missing")
        await cache.sweep()
        await flags.set("f", enabled=True)
        flags.is_enabled("f")
        text = generate_latest(registry).decode()
        assert 'loopsafe_cache_hits_total{store="pages"} 1.0' in text
        assert 'loopsafe_cache_misses_total{store="pages"} 1.0' in text
        assert "# TYPE loopsafe_cache_bytes gauge" in text
        assert 'loopsafe_cache_bytes{store="pages"} 5.0' in text
        assert 'loopsafe_flags_checks_total{store="features"} 1.0' in text
        assert 'loopsafe_flags_flags{store="features"} 1.0' in text
        await cache.get("k")
        assert 'loopsafe_cache_hits_total{store="pages"} 2.0' in generate_latest(registry).decode()
        metrics.detach(cache, registry)
        assert "loopsafe_cache_hits" not in generate_latest(registry).decode()
