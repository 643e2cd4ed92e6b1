"""Liveness, readiness, metrics."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.responses import Response

from loopsafe.service.problems import Problem, problems
from loopsafe.service.state import Service, service

router = APIRouter(tags=["operations"])

ServiceDep = Annotated[Service, Depends(service)]


@router.get("/health", summary="Liveness: the process serves requests (no I/O)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: every store answers", responses=problems(503))
async def ready(svc: ServiceDep) -> dict[str, Any]:
    checks = {
        "cache": svc.cache.ping(timeout=1.0),
        "flags": svc.flags.ping(timeout=1.0),
        "jobs": svc.jobs.queue.ping(timeout=1.0),
    }
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    failed = [name for name, r in zip(checks, results, strict=True) if r is not None]
    if failed:
        raise Problem(503, f"not ready: {', '.join(failed)} did not answer")
    return {"status": "ready", "stores": sorted(checks)}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
