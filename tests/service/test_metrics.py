"""The service's /metrics, scraped from a real server: the engine's lanes beside the rest."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.service.server import Server


def test_each_stores_database_lanes_are_scraped(server: Server) -> None:
    with server.client() as client:
        assert client.get("/ready").status_code == 200  # every store answered once
        text = client.get("/metrics").text
    lanes = {
        (sample.name, sample.labels["database"]): (family.type, sample.value)
        for family in text_string_to_metric_families(text)
        if family.name.startswith("loopsafe_database_")
        for sample in family.samples
    }
    for database in ("cache", "flags", "queue"):
        for lane in ("read", "write"):
            kind, limit = lanes[f"loopsafe_database_{lane}_limit", database]
            assert (kind, limit) == ("gauge", 1024.0)  # open()'s default queue per lane
            kind, inflight = lanes[f"loopsafe_database_{lane}_inflight", database]
            assert kind == "gauge"
            assert 0 <= inflight <= limit
