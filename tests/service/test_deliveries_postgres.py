"""The deliveries table on PostgreSQL: a bad URL is refused up front, and a server that
fails reaches the service as loopsafe's ServerError (503 to a client), never the driver's."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from loopsafe import ArgumentError, ServerError
from loopsafe.service.app import create_app
from loopsafe.service.deliveries import Deliveries
from loopsafe.service.jobs import Jobs
from loopsafe.service.settings import Settings
from tests.servers import POSTGRES, server_url
from tests.stores._proxy import Proxy


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1", "abc", "5432x"])
def test_a_port_out_of_range_is_refused_at_construction(port: str) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{port}/test"
    with pytest.raises(ArgumentError, match=r"port .* 1 to 65535") as refused:
        Deliveries(url)
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ValueError, match="port"):  # the service's queue, the same way
        Jobs(Settings(queue_url=SecretStr(url)))


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    dsn = server_url(POSTGRES)
    name = f"lt_deliv_{uuid.uuid4().hex[:10]}"
    yield name
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    chosen = Proxy(server_url(POSTGRES).split("?")[0])
    await chosen.up()
    try:
        yield chosen
    finally:
        await chosen.down()


async def test_a_server_that_goes_away_is_a_server_error(schema: str, proxy: Proxy) -> None:
    async with Deliveries(f"{proxy.dsn}?schema={schema}") as deliveries:
        assert await deliveries.insert("github", "msg-1", b"{}", time.time())
        await proxy.down()
        calls = [
            deliveries.insert("github", "msg-2", b"{}", time.time()),
            deliveries.set_state("github", "msg-1", "processed"),
            deliveries.get("github", "msg-1"),
            deliveries.page("github", 10, None),
        ]
        for call in calls:
            with pytest.raises(ServerError) as failed:
                await call
            assert isinstance(
                failed.value.__cause__, OSError | asyncpg.PostgresError | asyncpg.InterfaceError
            )
        await proxy.up()
        found = await deliveries.get("github", "msg-1")  # the pool reconnects
        assert found is not None
        assert found.state == "received"


async def test_accepting_a_delivery_while_the_server_is_away(
    schema: str, proxy: Proxy, tmp_path: Path
) -> None:
    url = f"{proxy.dsn}?schema={schema}"
    settings = Settings(data_dir=tmp_path, queue_url=SecretStr(url), worker=False)
    jobs = Jobs(settings)
    async with jobs.queue:
        await jobs.deliveries()
        await proxy.down()
        with pytest.raises(ServerError):
            await jobs.accept("github", "msg-1", b"{}", time.time())
        await proxy.up()
        job_id = await jobs.accept("github", "msg-1", b"{}", time.time())
        assert job_id is not None  # nothing was written by the failed try


async def test_a_server_error_in_a_route_is_a_503_with_retry_after(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, worker=False))

    @app.get("/boom/server")
    async def boom() -> None:
        raise ServerError("the PostgreSQL server failed the call: ConnectionResetError()")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom/server")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert "ConnectionReset" not in response.text  # the server's words stay in the log
