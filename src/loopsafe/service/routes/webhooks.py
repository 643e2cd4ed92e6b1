"""``POST /webhooks/{source}`` (Standard Webhooks) and the deliveries it stored."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse

from loopsafe.service.problems import Problem, problems
from loopsafe.service.settings import decode_secret
from loopsafe.service.state import Service, service
from loopsafe.service.webhooks import SignatureError, verify

router = APIRouter(tags=["webhooks"])

ServiceDep = Annotated[Service, Depends(service)]


def _key(svc: Service, source: str) -> bytes:
    secret = svc.settings.webhook_secrets.get(source)
    if secret is None:
        raise Problem(404, f"no webhook source named {source!r}")
    return decode_secret(secret.get_secret_value())


@router.post(
    "/webhooks/{source}",
    status_code=202,
    summary="Receive a signed webhook (Standard Webhooks)",
    responses={
        200: {"description": "a delivery already received"},
        **problems(400, 401, 404),
    },
)
async def receive(source: str, request: Request, svc: ServiceDep) -> JSONResponse:
    """Verify the delivery over its raw body, store it and enqueue its job in one
    transaction, and answer 202 at once (processing happens later, in a job)."""
    key = _key(svc, source)
    body = await request.body()
    now = time.time()
    try:
        verified = verify(
            key, request.headers, body, now=now, tolerance=svc.settings.webhook_tolerance
        )
    except SignatureError as exc:
        raise Problem(401, f"webhook not verified: {exc.reason}") from None
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "the webhook body is not JSON") from None
    job_id = await svc.jobs.accept(source, verified.id, body, now)
    if job_id is None:
        existing = await svc.deliveries.get(source, verified.id)
        job = None if existing is None else existing.job_id
        return JSONResponse({"id": verified.id, "job_id": job, "duplicate": True}, 200)
    return JSONResponse({"id": verified.id, "job_id": job_id}, 202)


@router.get(
    "/webhooks/{source}/deliveries",
    summary="Deliveries received, newest first",
    responses=problems(400, 404),
)
async def deliveries(
    source: str,
    svc: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    _key(svc, source)
    try:
        page = await svc.deliveries.page(source, limit, cursor)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    return {"items": [d.summary() for d in page.items], "next": page.next}
