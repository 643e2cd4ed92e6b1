"""instrument(app): the monitor follows the lifespan, reports name the route, /metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from loopsafe.fastapi.watch import instrument
from loopsafe.watch import LoopMonitor, StallKind, StallReport
from tests.watch.watch_stalls import (
    LOOPS,
    CpuLoss,
    Stalls,
    checked,
    marker_lines,
    reports_after,
    run,
    settle,
    shows,
    watched_threads,
)


def make_app(stalls: Stalls, events: list[str]) -> tuple[FastAPI, LoopMonitor]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"answer": "42"}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    async def blocking_item(item_id: int) -> dict[str, int]:
        stalls.sleep()
        return {"id": item_id}

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    monitor = instrument(app, registry=CollectorRegistry())
    return app, monitor


def _check_report(reports: list[StallReport]) -> None:
    # Only the route's stall counts: creating an httpx client, say, blocks the loop
    # too (it loads the CA certificates), and is reported as such.
    slept = [r for r in reports if shows(r, "sleep")]
    assert len(slept) == 1, "\n\n".join(r.format() for r in reports)
    report = slept[0]
    assert report.kind is StallKind.BLOCKING, report.format()
    assert report.route == "GET /items/{item_id}", report.format()
    assert report.user_frame is not None
    assert report.user_frame.lineno in marker_lines("sleep")


def test_blocking_route_is_named_and_metrics_are_served(
    stalls: Stalls, caplog: pytest.LogCaptureFixture
) -> None:
    def trial() -> tuple[tuple[list[StallReport], httpx.Response, LoopMonitor, list[str]], float]:
        events: list[str] = []
        app, monitor = make_app(stalls, events)

        async def main() -> tuple[list[StallReport], httpx.Response, float]:
            async with app.router.lifespan_context(app) as state:
                assert state == {"answer": "42"}
                assert monitor.running
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                    await settle()
                    loss = CpuLoss(watched_threads(monitor))
                    assert (await client.get("/ok")).status_code == 200
                    assert (await client.get("/items/7")).json() == {"id": 7}
                    reports = await reports_after(monitor, 0)
                    lost = loss.lost()
                    metrics = await client.get("/metrics")
            assert not monitor.running
            return reports, metrics, lost

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="loopsafe.watch"):
            reports, metrics, lost = run("asyncio", main)
        assert app.state.loopsafe_monitor is monitor
        return (reports, metrics, monitor, events), lost

    def check(result: tuple[list[StallReport], httpx.Response, LoopMonitor, list[str]]) -> None:
        reports, metrics, monitor, events = result
        assert events == ["startup", "shutdown"]
        _check_report(reports)
        assert any("route GET /items/{item_id}" in r.getMessage() for r in caplog.records)
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'loopsafe_loop_lag_seconds_bucket{le="0.025",loop="main"}' in metrics.text
        blocking = monitor.stall_totals()[StallKind.BLOCKING][0]
        assert blocking >= 1
        assert f'loopsafe_loop_stalls_total{{kind="blocking",loop="main"}} {blocking:.1f}' in (
            metrics.text
        )

    checked(trial, check)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_real_uvicorn_server(loop_kind: str, stalls: Stalls) -> None:
    def trial() -> tuple[tuple[list[StallReport], LoopMonitor, list[str]], float]:
        events: list[str] = []
        app, monitor = make_app(stalls, events)

        async def main() -> tuple[list[StallReport], float]:
            config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())
            try:
                while not server.started:  # noqa: ASYNC110 - uvicorn offers no startup event
                    await asyncio.sleep(0.01)
                port = server.servers[0].sockets[0].getsockname()[1]
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                    await settle()
                    loss = CpuLoss(watched_threads(monitor))
                    assert (await client.get("/items/3")).status_code == 200
                    reports = await reports_after(monitor, 0)
                    lost = loss.lost()
                    metrics = await client.get("/metrics")
                    assert "loopsafe_loop_lag_seconds_count" in metrics.text
            finally:
                server.should_exit = True
                await serving
            return reports, lost

        reports, lost = run(loop_kind, main)
        return (reports, monitor, events), lost

    def check(result: tuple[list[StallReport], LoopMonitor, list[str]]) -> None:
        reports, monitor, events = result
        _check_report(reports)
        assert events == ["startup", "shutdown"]
        assert not monitor.running

    checked(trial, check)
