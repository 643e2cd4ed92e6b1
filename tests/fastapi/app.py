"""A small loopsafe.fastapi app that the server tests run under uvicorn in a subprocess.

``python app.py --db PATH --fd FD --marker PATH``: serves on the listening
socket FD; writes "opened" to the marker at startup and, after loopsafe's lifespan
has ended, "closed" if the Database really was closed. LoadShedding guards it with
its defaults; ``POST /hog`` blocks the loop on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

import loopsafe
from loopsafe.fastapi import (
    DatabaseDep,
    LoadShedding,
    get_database,
    install_exception_handlers,
    lifespan,
)

SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)"
    " SELECT count(*) FROM c"
)


def _note(marker: Path, text: str) -> None:
    with marker.open("a") as f:
        f.write(text)


def create_app(db_path: str, marker: Path) -> FastAPI:
    """One read slot (read_queue=1), so a slow read makes the next one OverloadedError
    (inline=False: the fast path would answer the next one on the loop, taking no slot)."""
    databases = lifespan(
        default=functools.partial(loopsafe.open, db_path, read_queue=1, inline=False)
    )

    @asynccontextmanager
    async def observed(app: FastAPI) -> AsyncIterator[None]:
        async with databases(app):
            db = get_database(app)
            _note(marker, "opened\n")
            yield
        _note(marker, "closed\n" if db.closed else "still open\n")

    app = FastAPI(lifespan=observed)
    install_exception_handlers(app, retry_after=2)

    @app.get("/value")
    async def value(db: DatabaseDep) -> dict[str, Any]:
        return {"value": await db.fetchval("SELECT 41 + 1")}

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/wait")
    async def wait(seconds: float) -> dict[str, bool]:
        await asyncio.sleep(seconds)  # a request in flight that needs the loop again
        return {"ok": True}

    hogs: set[asyncio.Task[None]] = set()

    @app.post("/hog")
    async def hog(seconds: float, block: float) -> dict[str, bool]:
        task = asyncio.create_task(_hog(seconds, block))
        hogs.add(task)
        task.add_done_callback(hogs.discard)
        return {"ok": True}

    app.add_middleware(LoadShedding)

    @app.get("/health/shedding")
    async def shedding() -> dict[str, Any]:
        stack = app.middleware_stack
        while stack is not None and not isinstance(stack, LoadShedding):
            stack = getattr(stack, "app", None)
        assert stack is not None
        return dataclasses.asdict(stack.stats())

    @app.get("/slow")
    async def slow(n: int, db: DatabaseDep, timeout: float | None = None) -> dict[str, Any]:
        return {"count": await db.fetchval(SLOW, (n,), timeout=timeout, lane="read")}

    return app


async def _hog(seconds: float, block: float) -> None:
    """Block the loop ``block`` seconds at a time, yielding between, for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(block)  # noqa: ASYNC251 - blocking the loop is the point
        await asyncio.sleep(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--marker", type=Path, required=True)
    args = parser.parse_args()
    config = uvicorn.Config(
        create_app(args.db, args.marker),
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level="warning",
    )
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=args.fd)])


if __name__ == "__main__":
    main()
