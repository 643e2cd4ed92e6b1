"""The benchmark's FastAPI app: ``/health`` plus one SQLite lookup, written one of five ways.

One server process serves one mode, so the threads of one way (and their fight
for the GIL) never disturb another. Each way is written as users write it:

- ``blocking``: sync ``sqlite3`` inside ``async def``, one connection opened at startup.
- ``executor``: ``loop.run_in_executor(None, ...)`` with a connection per call (the
  textbook fix).
- ``threadpool``: a plain ``def`` route that FastAPI runs in its threadpool, with a
  connection per request (as in FastAPI's SQL tutorials).
- ``aiosqlite``: one shared ``aiosqlite`` connection.
- ``loopsafe``: a loopsafe Database through ``loopsafe.fastapi``, opened with
  ``loopsafe.open(path)`` and nothing else, as the README's quick start does; a read the
  engine refuses (its queue full, or past its ``queue_budget``) answers 503 at once.

Beside them, variants of loopsafe: ``loopsafe-tuned`` (``read_queue`` sized by hand from
the read's measured cost, to compare the defaults with), ``loopsafe-watch`` (the loop
monitor on, to measure what watching costs) and ``loopsafe-door`` (the defaults plus
``loopsafe.fastapi``'s door-shedding middleware, for when the loop itself is the
bottleneck) and ``loopsafe-no-inline`` (the defaults with the inline fast path off, to show
what answering cheap reads on the loop's thread buys).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal

import aiosqlite
from fastapi import FastAPI

import loopsafe
from benchmarks.http.dataset import WRITE_SQL, Read, key_for, lookup_param, measure, read_sql
from loopsafe.fastapi import DatabaseDep, install_exception_handlers, lifespan

__all__ = ["ALL_MODES", "MODES", "Mode", "ServerConfig", "create_app", "loopsafe_read_queue"]

Mode = Literal[
    "blocking",
    "executor",
    "threadpool",
    "aiosqlite",
    "loopsafe",
    "loopsafe-tuned",
    "loopsafe-watch",
    "loopsafe-door",
    "loopsafe-no-inline",
]
MODES: tuple[Mode, ...] = ("blocking", "executor", "threadpool", "aiosqlite", "loopsafe")
# What a run measures unless told otherwise: the five ways, the hand-tuned variant beside
# the defaults, the loop monitor's cost, and the defaults with the inline fast path off.
DEFAULT_MODES: tuple[Mode, ...] = (
    *MODES,
    "loopsafe-door",
    "loopsafe-tuned",
    "loopsafe-watch",
    "loopsafe-no-inline",
)
ALL_MODES: tuple[Mode, ...] = DEFAULT_MODES

# The switch for door shedding: the middleware ``loopsafe-door`` installs, by its name in
# ``loopsafe.fastapi`` (constructed with its defaults, ``/health`` exempt).
DOOR_SHEDDING = "LoadShedding"

# How long an accepted read may wait in loopsafe-tuned's queue: the route's budget is
# p99 <= 50 ms, and queueing may take well under half of it.
QUEUE_BUDGET = 0.020


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What one server process serves; ``/config`` returns it as JSON."""

    mode: Mode
    read: Read
    db_path: str
    rows: int
    read_cost_ms: float = 0.0
    readers: int = 0  # 0: loopsafe's default (loopsafe-tuned sets it)
    read_queue: int = 0  # 0: loopsafe's default (loopsafe-tuned sets it)


def loopsafe_read_queue(read_cost: float, readers: int, cores: int) -> int:
    """loopsafe-tuned's ``read_queue`` for a route whose read costs ``read_cost`` seconds.

    A full queue drains in about ``read_queue * read_cost / parallel``; keep that
    within ``QUEUE_BUDGET`` so accepted requests stay fast and the rest are shed.
    ``parallel`` counts the cores the readers really get: one core is the event
    loop's (which also does all the HTTP work).
    """
    parallel = max(1, min(readers, cores - 1))
    return max(readers, min(1024, round(QUEUE_BUDGET * parallel / max(read_cost, 1e-6))))


def configure(mode: Mode, read: Read, db_path: str, rows: int) -> ServerConfig:
    """Measure the read's cost here (and, for loopsafe-tuned only, size the queue from it)."""
    # The fastest of 30: the cost without interference, not whatever else the machine
    # was doing at startup.
    cost = measure(db_path, read, rows, statistic=min)
    if mode != "loopsafe-tuned":
        return ServerConfig(mode, read, db_path, rows, read_cost_ms=cost * 1e3)
    # The engine's default reader count (one per core, 2 to 4), made explicit so the
    # queue size can be derived from it.
    cores = os.cpu_count() or 2
    readers = max(2, min(4, cores))
    return ServerConfig(
        mode,
        read,
        db_path,
        rows,
        read_cost_ms=cost * 1e3,
        readers=readers,
        read_queue=loopsafe_read_queue(cost, readers, cores),
    )


def create_app(config: ServerConfig) -> FastAPI:
    """The app serving ``/health``, ``/config``, ``GET /db/read`` and ``POST /db/write``."""
    builders = {
        "blocking": _blocking,
        "executor": _executor,
        "threadpool": _threadpool,
        "aiosqlite": _aiosqlite,
        "loopsafe": _loopsafe,
        "loopsafe-tuned": _loopsafe,
        "loopsafe-watch": _loopsafe_watched,
        "loopsafe-door": _loopsafe_door,
        "loopsafe-no-inline": _loopsafe,
    }
    app = builders[config.mode](config)
    described = asdict(config)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/config")
    async def show_config() -> dict[str, Any]:
        return described

    return app


def _blocking(config: ServerConfig) -> FastAPI:
    sql = read_sql(config.read)
    conn: list[sqlite3.Connection] = []

    @asynccontextmanager
    async def open_db(app: FastAPI) -> AsyncIterator[None]:
        conn.append(sqlite3.connect(config.db_path))  # noqa: LS101 - the bug, on purpose
        yield
        conn.pop().close()

    app = FastAPI(lifespan=open_db)

    @app.get("/db/read")
    async def read(k: int) -> dict[str, Any]:
        row = conn[0].execute(sql, (lookup_param(config.read, k),)).fetchone()
        return {"k": k, "value": row[0] if row else None}

    @app.post("/db/write")
    async def write(k: int) -> dict[str, Any]:
        cur = conn[0].execute(WRITE_SQL, (time.time(), key_for(k)))
        conn[0].commit()
        return {"k": k, "updated": cur.rowcount}

    return app


def _read_once(path: str, sql: str, param: str) -> Any:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(sql, (param,)).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def _write_once(path: str, key: str) -> int:
    conn = sqlite3.connect(path)
    try:
        with conn:
            return conn.execute(WRITE_SQL, (time.time(), key)).rowcount
    finally:
        conn.close()


def _executor(config: ServerConfig) -> FastAPI:
    sql = read_sql(config.read)
    app = FastAPI()

    @app.get("/db/read")
    async def read(k: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        param = lookup_param(config.read, k)
        value = await loop.run_in_executor(None, _read_once, config.db_path, sql, param)
        return {"k": k, "value": value}

    @app.post("/db/write")
    async def write(k: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        updated = await loop.run_in_executor(None, _write_once, config.db_path, key_for(k))
        return {"k": k, "updated": updated}

    return app


def _threadpool(config: ServerConfig) -> FastAPI:
    sql = read_sql(config.read)
    app = FastAPI()

    @app.get("/db/read")
    def read(k: int) -> dict[str, Any]:
        return {"k": k, "value": _read_once(config.db_path, sql, lookup_param(config.read, k))}

    @app.post("/db/write")
    def write(k: int) -> dict[str, Any]:
        return {"k": k, "updated": _write_once(config.db_path, key_for(k))}

    return app


def _aiosqlite(config: ServerConfig) -> FastAPI:
    sql = read_sql(config.read)
    conn: list[aiosqlite.Connection] = []

    @asynccontextmanager
    async def open_db(app: FastAPI) -> AsyncIterator[None]:
        async with aiosqlite.connect(config.db_path) as db:
            conn.append(db)
            yield
            conn.pop()

    app = FastAPI(lifespan=open_db)

    @app.get("/db/read")
    async def read(k: int) -> dict[str, Any]:
        async with conn[0].execute(sql, (lookup_param(config.read, k),)) as cur:
            row = await cur.fetchone()
        return {"k": k, "value": row[0] if row else None}

    @app.post("/db/write")
    async def write(k: int) -> dict[str, Any]:
        async with conn[0].execute(WRITE_SQL, (time.time(), key_for(k))) as cur:
            updated = cur.rowcount
        await conn[0].commit()
        return {"k": k, "updated": updated}

    return app


def _loopsafe(config: ServerConfig) -> FastAPI:
    sql = read_sql(config.read)
    if config.read_queue:
        opener = functools.partial(
            loopsafe.open, config.db_path, readers=config.readers, read_queue=config.read_queue
        )
    elif config.mode == "loopsafe-no-inline":
        opener = functools.partial(loopsafe.open, config.db_path, inline=False)  # fast path off
    else:
        opener = functools.partial(loopsafe.open, config.db_path)  # the defaults, untuned
    app = FastAPI(lifespan=lifespan(default=opener))
    install_exception_handlers(app, retry_after=1)

    @app.get("/db/read")
    async def read(k: int, db: DatabaseDep) -> dict[str, Any]:
        value = await db.fetchval(sql, (lookup_param(config.read, k),))
        return {"k": k, "value": value}

    @app.post("/db/write")
    async def write(k: int, db: DatabaseDep) -> dict[str, Any]:
        result = await db.execute(WRITE_SQL, (time.time(), key_for(k)))
        return {"k": k, "updated": result.rowcount}

    return app


def _loopsafe_watched(config: ServerConfig) -> FastAPI:
    from loopsafe.fastapi.watch import instrument

    app = _loopsafe(config)
    instrument(app)  # heartbeat, watchdog thread, route recorder, /metrics
    return app


def _loopsafe_door(config: ServerConfig) -> FastAPI:
    app = _loopsafe(config)
    # Looked up by name so the benchmark runs (and type-checks) whether or not this checkout
    # of loopsafe has the middleware yet; asking for the mode without it is a clear error.
    middleware = getattr(importlib.import_module("loopsafe.fastapi"), DOOR_SHEDDING, None)
    if middleware is None:
        raise RuntimeError(f"loopsafe.fastapi has no {DOOR_SHEDDING}: loopsafe-door can't run")
    app.add_middleware(middleware)
    return app
