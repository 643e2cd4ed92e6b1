"""A Database's lanes through Prometheus (loopsafe.stores.metrics.attach_lanes)."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import loopsafe
from loopsafe.stores import metrics


def scrape(registry: CollectorRegistry) -> dict[tuple[str, str], tuple[str, float]]:
    """(series, database label) -> (type, value), from the text a scrape returns."""
    found: dict[tuple[str, str], tuple[str, float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found[sample.name, sample.labels["database"]] = (family.type, sample.value)
    return found


async def test_lanes_are_gauges_read_at_scrape_time(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    started, release = threading.Event(), threading.Event()

    def held(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(30)

    async with loopsafe.open(tmp_path / "a.db", read_queue=64, write_queue=32) as db:
        metrics.attach_lanes(db, registry, name="jobs")
        idle = scrape(registry)
        assert idle["loopsafe_database_write_inflight", "jobs"] == ("gauge", 0.0)
        assert idle["loopsafe_database_write_limit", "jobs"] == ("gauge", 32.0)
        assert idle["loopsafe_database_read_inflight", "jobs"] == ("gauge", 0.0)
        assert idle["loopsafe_database_read_limit", "jobs"] == ("gauge", 64.0)
        write = asyncio.ensure_future(db.write(held))
        try:
            await asyncio.to_thread(started.wait, 30)
            busy = scrape(registry)
            assert busy["loopsafe_database_write_inflight", "jobs"] == ("gauge", 1.0)
        finally:
            release.set()
            await write
        assert scrape(registry)["loopsafe_database_write_inflight", "jobs"] == ("gauge", 0.0)


async def test_a_database_that_is_gone_stops_being_reported(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    db = await loopsafe.open(tmp_path / "a.db")
    metrics.attach_lanes(db, registry, name="a")
    async with loopsafe.open(tmp_path / "b.db") as kept:
        metrics.attach_lanes(kept, registry, name="b")
        await db.close()
        del db
        gc.collect()
        assert {label for _, label in scrape(registry)} == {"b"}
        metrics.detach(kept, registry)
        assert scrape(registry) == {}


def test_a_name_is_required() -> None:
    with pytest.raises(ValueError, match="name"):
        metrics.attach_lanes(object(), CollectorRegistry(), name="")  # type: ignore[arg-type]
