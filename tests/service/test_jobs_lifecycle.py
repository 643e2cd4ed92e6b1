"""The service's jobs and their deliveries table: opened once, closed with the queue —
by the server's lifespan or by ``loopsafe worker``, which knows only the queue."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from pydantic import SecretStr

from loopsafe import ClosedError
from loopsafe.service.jobs import Jobs
from loopsafe.service.settings import Settings
from loopsafe.stores.queue._command import load, serve
from tests.servers import POSTGRES, server_url

PG_PORT = 5432


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A PostgreSQL URL on a schema of this test's own, dropped after."""
    dsn = server_url(POSTGRES)
    schema = f"lt_jobs_{uuid.uuid4().hex[:10]}"
    yield f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    return Settings(data_dir=tmp_path, queue_url=None if url is None else SecretStr(url))


def postgres_connections() -> int:
    """This process's open connections to the PostgreSQL port."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == PG_PORT and c.status == psutil.CONN_ESTABLISHED
    )


async def test_concurrent_first_calls_open_one_deliveries_table(settings: Settings) -> None:
    jobs = Jobs(settings)
    async with jobs.queue:
        opened = await asyncio.gather(*(jobs.deliveries() for _ in range(8)))
        assert all(d is opened[0] for d in opened)
        assert opened[0].is_open


async def test_closing_the_queue_closes_the_deliveries_table(settings: Settings) -> None:
    jobs = Jobs(settings)
    async with jobs.queue:
        deliveries = await jobs.deliveries()
        assert await jobs.accept("github", "msg-1", b"{}", time.time()) is not None
    assert not deliveries.is_open
    with pytest.raises(ClosedError):
        await jobs.deliveries()  # not opened again behind the closed queue


async def test_the_worker_command_closes_the_deliveries_pool(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPSAFE_QUEUE_URL", postgres_url)
    monkeypatch.setenv("LOOPSAFE_DATA_DIR", str(tmp_path))
    receiver = Jobs(Settings())
    async with receiver.queue:
        job_id = await receiver.accept("github", "msg-1", b"{}", time.time())
    assert job_id is not None
    before = postgres_connections()

    # What `loopsafe worker loopsafe.service.jobs:queue` runs, in this process.
    queue = load("loopsafe.service.jobs:queue")
    command = asyncio.create_task(serve(queue, 2, None, 1.0))
    try:
        for _ in range(2000):  # up to 10 s: the job opened the deliveries table to run
            job = await receiver_view(postgres_url, job_id)
            if job == "succeeded":
                break
            await asyncio.sleep(0.005)
        assert job == "succeeded"
        os.kill(os.getpid(), signal.SIGTERM)  # as a deploy stops it: the command's handler
        await asyncio.wait_for(command, 30)
    finally:
        command.cancel()
    assert postgres_connections() <= before  # the deliveries pool went with the queue


async def receiver_view(url: str, job_id: int) -> str | None:
    schema = url.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(url.split("?")[0], server_settings={"search_path": schema})
    try:
        state: str | None = await conn.fetchval(
            "SELECT state FROM loopsafe_jobs WHERE id = $1", job_id
        )
        return state
    finally:
        await conn.close()
