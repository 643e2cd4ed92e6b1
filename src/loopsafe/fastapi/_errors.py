"""Map loopsafe's overload and deadline errors to HTTP answers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from loopsafe.errors import BusyError, ClosedError, DeadlineError, OverloadedError

__all__ = ["ExceptionHandler", "exception_handlers", "install_exception_handlers"]

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]

# (status, error code, detail, whether a retry may work later)
_ANSWERS: dict[type[Exception], tuple[int, str, str, bool]] = {
    OverloadedError: (503, "overloaded", "The database is overloaded; retry later.", True),
    BusyError: (503, "busy", "The database is busy with another write; retry later.", True),
    ClosedError: (503, "closed", "The database is closed; the service is stopping.", True),
    DeadlineError: (504, "timeout", "The database call took too long and was stopped.", False),
}


def exception_handlers(*, retry_after: int | None = 1) -> dict[type[Exception], ExceptionHandler]:
    """Handlers for ``FastAPI(exception_handlers=...)``.

    ``OverloadedError``, ``BusyError`` and ``ClosedError`` answer 503 with ``Retry-After:
    retry_after`` seconds (no header when ``None``); ``DeadlineError`` answers 504.
    Bodies are small JSON objects, ``{"detail": ..., "error": "overloaded"}``,
    and never include SQL text or parameters.
    """
    if retry_after is not None and retry_after < 0:
        raise ValueError("retry_after must be >= 0 seconds (or None for no header)")
    return {
        cls: _handler(status, code, detail, retry_after if retryable else None)
        for cls, (status, code, detail, retryable) in _ANSWERS.items()
    }


def install_exception_handlers(app: Starlette, *, retry_after: int | None = 1) -> None:
    """Install :func:`exception_handlers` on ``app``."""
    for cls, handler in exception_handlers(retry_after=retry_after).items():
        app.add_exception_handler(cls, handler)


def _handler(status: int, code: str, detail: str, retry_after: int | None) -> ExceptionHandler:
    # Shedding must be cheap: the body and headers are built once, not per request.
    body = json.dumps({"detail": detail, "error": code}).encode()
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}

    # async on purpose: Starlette runs plain-def handlers in its threadpool.
    async def handle(request: Request, exc: Exception) -> Response:
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    return handle
