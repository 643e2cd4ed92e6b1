"""The reference service: signed webhooks in, a job per delivery, cache / flags / jobs over HTTP.

``create_app()`` builds the FastAPI app from :class:`Settings` (the environment by
default). Its lifespan opens the three stores — each its own file under ``data_dir``, or
the URL its setting names (``LOOPSAFE_CACHE_URL``, ``LOOPSAFE_FLAGS_URL``,
``LOOPSAFE_QUEUE_URL``; ``postgresql://`` for stores shared by several hosts) —
starts the job worker in-process (unless ``LOOPSAFE_WORKER=false``) and, on shutdown,
stops the worker gracefully (running jobs get ``grace_period`` to finish, the rest are
handed back without using an attempt) and closes the stores.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

from loopsafe.fastapi import LoadShedding
from loopsafe.fastapi.watch import instrument
from loopsafe.service.jobs import Jobs
from loopsafe.service.middleware import BodyLimit, RequestId
from loopsafe.service.problems import install_problem_handlers, problems
from loopsafe.service.routes import cache, flags, jobs, ops, webhooks
from loopsafe.service.settings import Settings
from loopsafe.service.state import Service
from loopsafe.stores import Cache, Flags
from loopsafe.stores.metrics import attach as attach_store_metrics
from loopsafe.stores.metrics import attach_lanes

__all__ = ["create_app"]

log = logging.getLogger("loopsafe.service")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service's ASGI app. Raises ``pydantic.ValidationError`` for bad settings and
    :class:`ValueError` for a webhook handler that can't be loaded."""
    settings = settings or Settings()
    built = Jobs(settings)  # loads the handler now: a bad one fails at start, not per job

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        async with AsyncExitStack() as stack:
            cache_store = await stack.enter_async_context(Cache(settings.store_target("cache")))
            flag_store = await stack.enter_async_context(Flags(settings.store_target("flags")))
            await stack.enter_async_context(built.queue)  # closes the deliveries with it
            # Read at scrape time: hit ratio, evictions, queue depth per state, oldest ready.
            for store in (cache_store, flag_store, built.queue):
                attach_store_metrics(store, name="service")
                if store.backend == "sqlite":  # a Database's lanes (PostgreSQL has a pool)
                    attach_lanes(store.database, name=store.schema)
            app.state.service = Service(
                settings, cache_store, flag_store, built, await built.deliveries()
            )
            if settings.worker:
                await stack.enter_async_context(
                    built.queue.worker(
                        concurrency=settings.worker_concurrency, grace=settings.grace_period
                    )
                )
            log.info("service ready", extra={"data_dir": str(settings.data_dir)})
            yield

    app = FastAPI(
        title="loopsafe reference service",
        summary="Signed webhooks, a cache, feature flags and jobs, on SQLite that never "
        "blocks the event loop.",
        version="0.1.0",
        lifespan=lifespan,
        # Any route may meet these: bad input, a body too large, overload, a deadline.
        responses=problems(422, 413, 500, 503, 504),
    )
    app.state.settings = settings
    install_problem_handlers(app)
    for module in (webhooks, jobs, cache, flags, ops):
        app.include_router(module.router)
    Instrumentator(excluded_handlers=["/metrics"]).instrument(app)
    instrument(app, metrics_path=None)
    # Added last, so it runs first: a request is shed before anything else costs the loop.
    app.add_middleware(BodyLimit, max_body=settings.max_body)
    app.add_middleware(RequestId)
    app.add_middleware(LoadShedding, target_lag=settings.shed_target_lag)
    return app
