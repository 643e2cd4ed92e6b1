"""loopsafe.fastapi in-process: lifespan, dependencies and error answers via ASGITransport."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette

import loopsafe
from loopsafe import BusyError, ClosedError, Database, DeadlineError, OverloadedError
from loopsafe.fastapi import (
    DatabaseDep,
    database,
    exception_handlers,
    get_database,
    install_exception_handlers,
    lifespan,
)

Other = Annotated[Database, Depends(database("other"))]


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _raising(exc: Exception, retry_after: int | None = 1) -> FastAPI:
    app = FastAPI()
    install_exception_handlers(app, retry_after=retry_after)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return app


@pytest.mark.parametrize(
    ("exc", "status", "code", "retry_after"),
    [
        (OverloadedError("secret sql"), 503, "overloaded", "1"),
        (BusyError("secret sql"), 503, "busy", "1"),
        (ClosedError("secret sql"), 503, "closed", "1"),
        (DeadlineError("secret sql"), 504, "timeout", None),
    ],
)
async def test_errors_become_http_answers(
    exc: Exception, status: int, code: str, retry_after: str | None
) -> None:
    async with _client(_raising(exc)) as client:
        r = await client.get("/boom")
    assert r.status_code == status
    assert r.headers.get("retry-after") == retry_after
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"] == code
    assert "secret" not in r.text


async def test_retry_after_is_configurable() -> None:
    async with _client(_raising(OverloadedError(), retry_after=7)) as client:
        assert (await client.get("/boom")).headers["retry-after"] == "7"
    async with _client(_raising(OverloadedError(), retry_after=None)) as client:
        r = await client.get("/boom")
    assert r.status_code == 503
    assert "retry-after" not in r.headers
    with pytest.raises(ValueError, match="retry_after"):
        exception_handlers(retry_after=-1)


async def test_handlers_fit_the_fastapi_constructor() -> None:
    app = FastAPI(exception_handlers=exception_handlers())  # type: ignore[arg-type]

    @app.get("/boom")
    async def boom() -> None:
        raise DeadlineError()

    async with _client(app) as client:
        assert (await client.get("/boom")).status_code == 504


async def test_lifespan_opens_names_and_closes(tmp_path: Path) -> None:
    app = FastAPI(
        lifespan=lifespan(
            default=str(tmp_path / "a.db"),
            other=functools.partial(loopsafe.open, tmp_path / "b.db", read_queue=4),
        )
    )

    @app.get("/both")
    async def both(db: DatabaseDep, other: Other) -> dict[str, Any]:
        return {
            "one": await db.fetchval("SELECT 1"),
            "other_queue": other.stats().read_limit,
            "same": db is other,
        }

    async with app.router.lifespan_context(app):
        default, other = get_database(app), get_database(app, "other")
        assert not default.closed
        async with _client(app) as client:
            r = await client.get("/both")
        assert r.json() == {"one": 1, "other_queue": 4, "same": False}
    assert default.closed
    assert other.closed
    with pytest.raises(LookupError):
        get_database(app)


async def test_inner_lifespan_runs_inside_and_its_state_passes(tmp_path: Path) -> None:
    seen: list[int] = []

    @asynccontextmanager
    async def mine(app: Starlette) -> AsyncIterator[dict[str, str]]:
        db = get_database(app)
        await db.execute("CREATE TABLE t (x INTEGER)")
        seen.append(await db.fetchval("SELECT count(*) FROM t"))
        yield {"greeting": "hi"}
        seen.append((await db.execute("INSERT INTO t VALUES (1)")).rowcount)

    app = FastAPI(lifespan=lifespan(mine, default=str(tmp_path / "a.db")))
    async with app.router.lifespan_context(app) as state:
        assert state == {"greeting": "hi"}
    assert seen == [0, 1], "the inner lifespan ran with the database open on both sides"


async def test_failed_startup_closes_what_was_opened(tmp_path: Path) -> None:
    opened: list[Database] = []

    async def first() -> Database:
        db = await loopsafe.open(tmp_path / "a.db")
        opened.append(db)
        return db

    async def second() -> Database:
        raise RuntimeError("cannot open")

    app = FastAPI(lifespan=lifespan(first=first, second=second))
    with pytest.raises(RuntimeError, match="cannot open"):
        async with app.router.lifespan_context(app):
            pass
    assert opened[0].closed


async def test_missing_lifespan_or_name_is_a_clear_error(tmp_path: Path) -> None:
    app = FastAPI()

    @app.get("/x")
    async def x(db: DatabaseDep) -> None:
        pass

    async with _client(app) as client:
        with pytest.raises(LookupError, match="lifespan"):
            await client.get("/x")
    app = FastAPI(lifespan=lifespan(main=str(tmp_path / "a.db")))
    async with app.router.lifespan_context(app):
        with pytest.raises(LookupError, match=r"'default'.*main"):
            get_database(app)


def test_lifespan_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one"):
        lifespan()
    with pytest.raises(TypeError, match="path or a callable"):
        lifespan(default=3)  # type: ignore[arg-type]


def test_one_dependency_per_name() -> None:
    assert database() is database("default")
    assert database("a") is not database("b")
