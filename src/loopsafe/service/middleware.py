"""ASGI middleware of the service: a request id on every request, a body size limit.

Both are plain ASGI (not ``BaseHTTPMiddleware``), so they add no task and no copy per
request, and the body limit refuses an oversized upload without reading it all.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopsafe.service.problems import MEDIA_TYPE, problem_body

__all__ = ["BodyLimit", "RequestId"]

log = logging.getLogger("loopsafe.service.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class RequestId:
    """Give each request an id (the client's ``x-request-id`` when it is safe, else a new
    one), echo it in the response, and log one structured line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": request_id,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )


class BodyLimit:
    """Answer 413 (problem details) to a body over ``max_body`` bytes: at once when
    ``Content-Length`` says so, or as soon as the streamed body passes the limit."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                await _refuse(send, 400, "bad content-length header")
                return
            if too_big:
                await _refuse(send, 413, f"the body is larger than {self.max_body} bytes")
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _refuse(send, 413, f"the body is larger than {self.max_body} bytes")


class _TooLarge(Exception):
    pass


async def _refuse(send: Send, status: int, detail: str) -> None:
    data = problem_body(status, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
