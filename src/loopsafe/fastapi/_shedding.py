"""Shedding at the door: 503 before routing while the event loop cannot keep up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from loopsafe.fastapi._lagprobe import LagProbe
from loopsafe.fastapi._limit import LagLimit

__all__ = ["DEFAULT_EXEMPT", "LoadShedding", "SheddingStats"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_EXEMPT = frozenset({"/health", "/healthz", "/livez", "/readyz", "/metrics"})
"""Paths never shed: a load balancer that sees its health check fail under load
takes the instance out and sends its traffic to the others, which then overload."""


@dataclass(frozen=True, slots=True)
class SheddingStats:
    """A snapshot of a :class:`LoadShedding` middleware."""

    inflight: int
    """Requests admitted and not yet answered."""
    limit: int
    """Requests it admits in flight at once, now."""
    lag: float
    """The smallest heartbeat lag of the last window, in seconds."""
    lagging: bool
    """Whether the loop counts as over its lag target."""
    admitted: int
    """Requests let through since start (exempt paths not counted)."""
    shed: int
    """Requests answered 503 since start."""


class LoadShedding:
    """ASGI middleware that answers 503 at once, before routing, when the event loop
    itself is the bottleneck.

    ``app.add_middleware(LoadShedding)`` (add it last, so that it runs first) or
    ``app = LoadShedding(app)``.

    A heartbeat on the serving loop (one timer every ``interval`` seconds) measures
    the loop's lag; :attr:`limiter` turns it into a limit on requests in flight: cut
    when, for a whole ``window``, every beat ran at least ``target_lag`` late, grown
    back once the lag is under half the target. An HTTP request that finds the limit
    reached is answered 503 with ``Retry-After`` and an RFC 9457
    ``application/problem+json`` body, without reading its body or reaching the app:
    a shed request costs the loop a few microseconds where a served one costs
    routing, validation and the handler. Requests to ``exempt``
    paths (exact matches; by default health and metrics) are never shed, nor are
    ``min_limit`` requests in flight, so a quiet service never sheds. WebSocket and
    lifespan messages pass through untouched.

    The heartbeat starts with the first request on a loop (and moves if the app is
    served by another loop later); it holds no per-request state, so nothing grows
    with the load.

    Args:
        app: the ASGI app to protect.
        target_lag: the loop lag, in seconds, that counts as overload when it
            persists for a whole window (default 5 ms: past it, every request
            on the loop, exempt ones included, is that much slower).
        window: seconds over which the lag must persist (default 0.1 s, CoDel's
            interval: longer than a host's scheduling hiccup or a GC pause).
        interval: heartbeat period in seconds (default 0.01).
        min_limit: requests in flight always admitted (default 8).
        max_limit: the most requests admitted in flight at once (default 1024).
        exempt: paths never shed.
        retry_after: seconds for the ``Retry-After`` header (``None``: no header).
        heartbeat: ``False`` runs no heartbeat: feed the lag to :attr:`limiter`
            (``limiter.observe(lag, inflight, now)``) from a lag source of your own.

    Raises:
        ValueError: a setting out of range.
        TypeError: ``exempt`` is one string rather than a collection of paths.

    A request cancelled or failing inside the app leaves the in-flight count as it
    found it; a shed request is never queued, so it is answered at once whatever the
    admitted ones are doing.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        target_lag: float = 0.005,
        window: float = 0.1,
        interval: float = 0.01,
        min_limit: int = 8,
        max_limit: int = 1024,
        exempt: Iterable[str] = DEFAULT_EXEMPT,
        retry_after: int | None = 1,
        heartbeat: bool = True,
    ) -> None:
        if not 0 < interval <= window:
            raise ValueError(f"need 0 < interval <= window, not interval={interval!r}")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must be >= 0 seconds (or None for no header)")
        if isinstance(exempt, str):
            raise TypeError("exempt is a collection of paths, not one string")
        self.app = app
        self.exempt = frozenset(exempt)
        self.limiter = LagLimit(
            target=target_lag, window=window, min_limit=min_limit, max_limit=max_limit
        )
        self.probe = LagProbe(interval, self._on_lag) if heartbeat else None
        self._inflight = 0
        self._admitted = 0
        self._shed = 0
        # Built once: shedding must cost next to nothing.
        self._start: Message = {
            "type": "http.response.start",
            "status": 503,
            "headers": _headers(retry_after),
        }
        self._body: Message = {"type": "http.response.body", "body": _PROBLEM}

    @property
    def inflight(self) -> int:
        """Requests admitted and not yet answered."""
        return self._inflight

    def stats(self) -> SheddingStats:
        """The limit, the loop's lag and the counts of requests admitted and shed."""
        state = self.limiter.state()
        return SheddingStats(
            self._inflight, state.limit, state.lag, state.lagging, self._admitted, self._shed
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        probe = self.probe
        if probe is not None:
            loop = asyncio.get_running_loop()
            if loop is not probe.loop:
                probe.ensure(loop)
        if not self.limiter.admits(self._inflight):
            self._shed += 1
            await send(self._start)
            await send(self._body)
            return
        self._inflight += 1
        self._admitted += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._inflight -= 1

    def _on_lag(self, lag: float, now: float) -> None:
        self.limiter.observe(lag, self._inflight, now)


_PROBLEM = json.dumps(
    {
        "type": "urn:loopsafe:problem:overloaded",
        "title": "overloaded",
        "status": 503,
        "detail": "The service is overloaded; retry later.",
    }
).encode()


def _headers(retry_after: int | None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(_PROBLEM)).encode()),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    return headers
