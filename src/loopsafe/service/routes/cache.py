"""``/cache/{key}``: read, write (admin) and delete (admin) cache entries over HTTP.

A body sent as ``application/json`` is stored as JSON and read back as JSON; any other
body is stored as bytes and read back as ``application/octet-stream``.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import JSONResponse, Response

from loopsafe.service.auth import AdminOnly
from loopsafe.service.problems import Problem, problems
from loopsafe.service.state import Service, service

router = APIRouter(prefix="/cache", tags=["cache"])

ServiceDep = Annotated[Service, Depends(service)]
Key = Annotated[str, Path(min_length=1, max_length=512)]
_MISSING = object()


@router.get("/{key}", summary="A cached value", responses=problems(404))
async def get_value(key: Key, svc: ServiceDep) -> Response:
    value = await svc.cache.get(key, _MISSING)
    if value is _MISSING:
        raise Problem(404, "no value for that key (missing or expired)")
    if isinstance(value, bytes):
        return Response(value, media_type="application/octet-stream")
    return JSONResponse(value)


@router.put(
    "/{key}",
    status_code=204,
    dependencies=[AdminOnly],
    summary="Store a value",
    responses=problems(400, 401, 403),
)
async def put_value(
    key: Key,
    request: Request,
    svc: ServiceDep,
    ttl: Annotated[float | None, Query(gt=0, le=10 * 365 * 86400)] = None,
) -> Response:
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            value: object = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Problem(400, "the body is not JSON") from None
    else:
        value = body
    await svc.cache.set(key, value, ttl=ttl)
    return Response(status_code=204)


@router.delete(
    "/{key}",
    status_code=204,
    dependencies=[AdminOnly],
    summary="Delete a value",
    responses=problems(401, 403, 404),
)
async def delete_value(key: Key, svc: ServiceDep) -> Response:
    if not await svc.cache.delete(key):
        raise Problem(404, "no value for that key")
    return Response(status_code=204)
