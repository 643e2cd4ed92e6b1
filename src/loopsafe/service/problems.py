"""Every error as RFC 9457 problem details (``application/problem+json``), never a trace.

A client always gets ``{"type", "title", "status", "detail"}``; validation errors add the
offending fields under ``errors``. Overload answers 503 with ``Retry-After``, a deadline
504. Unexpected errors are logged with the request id and answered 500 with nothing of
the exception in the body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from loopsafe.errors import (
    BusyError,
    ClosedError,
    DeadlineError,
    OverloadedError,
    ServerError,
    StoreError,
)

__all__ = ["Problem", "install_problem_handlers", "problem_response", "problems"]

log = logging.getLogger("loopsafe.service")

MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    413: "content too large",
    415: "unsupported media type",
    422: "unprocessable content",
    500: "internal server error",
    503: "service unavailable",
    504: "gateway timeout",
}


_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring each status as a problem document."""
    return {
        status: {
            "description": _TITLES.get(status, "error"),
            "content": {MEDIA_TYPE: {"schema": _SCHEMA}},
        }
        for status in statuses
    }


class Problem(HTTPException):
    """Raise from a route to answer a problem document with this status and detail."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, detail, headers)


def problem_response(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A ``application/problem+json`` response (``type`` is ``about:blank``, as RFC 9457
    says when the status alone explains the problem)."""
    body = problem_body(status, detail, extra)
    return Response(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def problem_body(status: int, detail: str, extra: dict[str, Any] | None = None) -> bytes:
    """The JSON of a problem document, for code that answers below FastAPI (raw ASGI)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "error"),
        "status": status,
        "detail": detail,
    }
    if extra:
        body.update(extra)
    return json.dumps(body).encode()


def install_problem_handlers(app: FastAPI, *, retry_after: int = 1) -> None:
    """Answer every error of ``app`` with problem details."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return problem_response(422, "the request is not valid", extra={"errors": errors})

    async def overloaded(request: Request, exc: Exception) -> Response:
        return problem_response(
            503, "overloaded; retry later", headers={"Retry-After": str(retry_after)}
        )

    async def unavailable(request: Request, exc: Exception) -> Response:
        # The database server is away or failed the call (its words stay in the log).
        log.warning("database server error: %s", exc)
        return problem_response(
            503,
            "a database server is unavailable; retry later",
            headers={"Retry-After": str(retry_after)},
        )

    async def deadline(request: Request, exc: Exception) -> Response:
        return problem_response(504, "the call took too long and was stopped")

    async def store_error(request: Request, exc: Exception) -> Response:
        # A store's typed errors are about the request (bad value, unknown task, ...).
        return problem_response(400, str(exc))

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error(
            "unhandled error",
            exc_info=exc,
            extra={"request_id": getattr(request.state, "request_id", None)},
        )
        return problem_response(500, "an unexpected error; it has been logged")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    for cls in (OverloadedError, BusyError, ClosedError):
        app.add_exception_handler(cls, overloaded)
    app.add_exception_handler(ServerError, unavailable)
    app.add_exception_handler(DeadlineError, deadline)
    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(Exception, unexpected)
