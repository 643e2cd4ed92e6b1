"""One call to watch a FastAPI app's event loop: metrics on /metrics, stalls in the log.

::

    from fastapi import FastAPI
    from loopsafe.fastapi.watch import instrument

    app = FastAPI()
    instrument(app)  # before the app starts

Stall reports go to the ``loopsafe.watch`` logger and name the route being served.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from loopsafe.watch import LoopMonitor, StallCallback
from loopsafe.watch.asgi import RouteRecorder

if TYPE_CHECKING:
    from fastapi import FastAPI
    from prometheus_client.registry import CollectorRegistry

__all__ = ["instrument"]


def instrument(
    app: FastAPI,
    *,
    threshold: float = 0.02,
    interval: float | None = None,
    metrics_path: str | None = "/metrics",
    registry: CollectorRegistry | None = None,
    name: str = "main",
    on_stall: StallCallback | None = None,
) -> LoopMonitor:
    """Watch ``app``'s event loop while it runs; returns the (not yet started) monitor.

    * adds a tiny ASGI middleware recording which route each request task serves;
    * starts a :class:`~loopsafe.watch.LoopMonitor` after the app's own lifespan
      startup and stops it before the app's shutdown (the user's lifespan still runs);
    * serves Prometheus metrics on ``metrics_path`` from ``registry`` (default: the
      global registry, so the app's other metrics appear too); ``None`` serves none.

    Call it once, before the app starts. The monitor is also at
    ``app.state.loopsafe_monitor``.
    """
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    target = REGISTRY if registry is None else registry
    monitor = LoopMonitor(threshold, interval, name=name, on_stall=on_stall, metrics=target)
    app.add_middleware(RouteRecorder)
    app.router.lifespan_context = _with_monitor(app.router.lifespan_context, monitor)
    app.state.loopsafe_monitor = monitor
    if metrics_path is not None:

        async def metrics(request: Request) -> Response:
            return Response(generate_latest(target), media_type=CONTENT_TYPE_LATEST)

        app.add_route(metrics_path, metrics, include_in_schema=False)
    return monitor


def _with_monitor(
    inner: Callable[[Any], AbstractAsyncContextManager[Any]], monitor: LoopMonitor
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state:
            monitor.start()
            try:
                yield state
            finally:
                monitor.stop()

    return lifespan
