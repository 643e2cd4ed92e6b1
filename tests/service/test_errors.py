"""Errors raised inside routes, in process: each is a problem document with the right status."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from loopsafe.errors import DeadlineError, OverloadedError
from loopsafe.service.app import create_app
from loopsafe.service.settings import Settings
from tests.service.server import SECRET, TOKEN


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(
        data_dir=tmp_path,
        webhook_secrets={"github": SecretStr(SECRET)},
        admin_token=SecretStr(TOKEN),
        worker=False,
    )
    app = create_app(settings)

    @app.get("/boom/overloaded")
    async def overloaded() -> None:
        raise OverloadedError("the write lane is full")

    @app.get("/boom/deadline")
    async def deadline() -> None:
        raise DeadlineError("too slow")

    @app.get("/boom/bug")
    async def bug() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    doc: dict[str, object] = response.json()
    assert doc["status"] == status
    assert {"type", "title", "detail"} <= doc.keys()
    return doc


async def test_overloaded_in_a_route_is_a_503_with_retry_after(app: FastAPI) -> None:
    r = await get(app, "/boom/overloaded")
    problem(r, 503)
    assert int(r.headers["retry-after"]) >= 1


async def test_a_deadline_in_a_route_is_a_504(app: FastAPI) -> None:
    problem(await get(app, "/boom/deadline"), 504)


async def test_an_unexpected_error_is_a_500_without_its_details(app: FastAPI) -> None:
    r = await get(app, "/boom/bug")
    problem(r, 500)
    assert "secret internals" not in r.text
    assert "Traceback" not in r.text
