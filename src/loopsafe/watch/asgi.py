"""An ASGI middleware that tells the loop monitor which route each task serves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from loopsafe.watch import tasks

__all__ = ["RouteRecorder"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RouteRecorder:
    """Label the task serving each HTTP/WebSocket request with its scope.

    The scope itself is stored (two dict operations per request); the label is
    rendered only when a stall is reported, by then with the matched route
    template (Starlette and FastAPI put the route into the scope when routing).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - ASGI servers run requests in tasks
            await self.app(scope, receive, send)
            return
        previous = tasks._labels.get(task)
        tasks._labels[task] = scope
        try:
            await self.app(scope, receive, send)
        finally:
            tasks.set_label(task, previous)
