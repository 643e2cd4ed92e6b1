"""The queue on a PostgreSQL server that fails: errors reach the worker as ServerError and
it carries on; a stuck row lock never holds a claim for ever."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from loopsafe import BusyError, Queue, ServerError
from loopsafe.stores.queue import JobState
from loopsafe.stores.queue._job import Outcome

from .._proxy import Proxy
from ..conftest import Backend, with_query
from .helpers import state_of, wait_until
from .pg import Schema, fresh_schema
from .test_postgres_backend import NOW, job

BOUND = 30.0  # a claim that waits this long waited for ever: the test fails, not hangs


@pytest.fixture
async def proxy(postgres: Backend) -> AsyncIterator[Proxy]:
    chosen = Proxy(postgres.target("q").split("?")[0])
    await chosen.up()
    try:
        yield chosen
    finally:
        await chosen.down()


@pytest.fixture
async def schema() -> AsyncIterator[Schema]:
    async with fresh_schema() as s:
        yield s


async def test_a_server_error_reaches_the_caller_as_a_loopsafe_error(
    postgres: Backend, proxy: Proxy
) -> None:
    schema = postgres.target("q").split("schema=")[1]
    queue = Queue(with_query(proxy.dsn, schema=schema))
    queue.task(name="t")(_noop)
    async with queue:
        await queue.enqueue("t", {})
        await proxy.down()
        with pytest.raises(ServerError) as failed:
            await queue.enqueue("t", {})
        assert failed.value.__cause__ is not None  # the driver's own, kept as the cause


async def test_the_worker_carries_on_through_a_server_restart(
    postgres: Backend, proxy: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    schema = postgres.target("q").split("schema=")[1]
    through = Queue(with_query(proxy.dsn, schema=schema), poll_interval=0.05)
    ran: list[int] = []

    @through.task
    async def t(n: int) -> None:
        ran.append(n)

    direct = Queue(postgres.target("q"))
    direct.task(name="t")(_noop)
    async with through, direct, through.worker(concurrency=2) as worker:
        first = await direct.enqueue("t", {"n": 1})
        await wait_until(lambda: _is(direct, first, JobState.SUCCEEDED))
        with caplog.at_level(logging.WARNING, logger="loopsafe.queue"):
            await proxy.down()
            second = await direct.enqueue("t", {"n": 2})  # while this host can't see it
            await wait_until(lambda: _logged(caplog, "claim failed"))
        assert "the PostgreSQL server failed the call" in caplog.text  # a ServerError
        assert worker._task is not None
        assert not worker._task.done()
        await proxy.up()
        await wait_until(lambda: _is(direct, second, JobState.SUCCEEDED))
    assert ran == [1, 2]


async def test_a_claim_waits_for_a_stuck_row_lock_no_longer_than_its_lock_timeout(
    schema: Schema,
) -> None:
    async with schema.backend(lock_timeout="200ms") as backend:
        (job_id,) = await backend.enqueue([job()], NOW)
        (claimed,), _ = await backend.claim(None, 1, NOW, NOW + 30, "w")
        done = Outcome(job_id, claimed.token, JobState.SUCCEEDED, result="null")
        stuck = await schema.connect()
        try:
            holding = stuck.transaction()
            await holding.start()
            await stuck.execute("SELECT 1 FROM loopsafe_jobs WHERE id = $1 FOR UPDATE", job_id)
            with pytest.raises(BusyError, match="lock_timeout"):  # not a wait for ever
                await asyncio.wait_for(backend.claim(None, 1, NOW, NOW + 30, "w", [done]), BOUND)
            await holding.rollback()
        finally:
            await stuck.close()
        # Nothing was recorded by the failed claim: the same outcome counts now.
        assert (await backend.claim(None, 1, NOW, NOW + 30, "w", [done]))[1] == [job_id]


async def test_a_keyed_job_another_transaction_holds_is_passed_over(schema: Schema) -> None:
    async with schema.backend() as backend:  # the default lock_timeout: seconds
        (held,) = await backend.enqueue([job(concurrency_key="k", concurrency_limit=5)], NOW)
        (free,) = await backend.enqueue([job()], NOW)
        stuck = await schema.connect()
        try:
            holding = stuck.transaction()
            await holding.start()
            await stuck.execute("SELECT 1 FROM loopsafe_jobs WHERE id = $1 FOR UPDATE", held)
            claimed, _ = await asyncio.wait_for(backend.claim(None, 10, NOW, NOW + 30, "w"), BOUND)
            assert [c.id for c in claimed] == [free]
            await holding.rollback()
        finally:
            await stuck.close()
        claimed, _ = await backend.claim(None, 10, NOW, NOW + 30, "w")
        assert [c.id for c in claimed] == [held]


async def _noop(n: int = 0) -> None:
    pass


async def _is(queue: Queue, job_id: int, state: JobState) -> bool:
    return await state_of(queue, job_id) is state


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text


async def test_a_queues_connections_wait_for_a_row_lock_five_seconds_at_most(
    postgres: Backend,
) -> None:
    async with Queue(postgres.target("q")) as queue:
        assert await queue.pool.fetchval("SHOW lock_timeout") == "5s"
