"""A PostgreSQL server that goes away: calls fail with ServerError, background work carries
on, and everything works again once it is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from loopsafe import Cache, Flags, ServerError
from loopsafe.errors import DeadlineError
from loopsafe.stores._postgres import server_errors

from ._proxy import Proxy
from .conftest import Backend, with_query


@pytest.fixture
async def proxy(postgres: Backend) -> AsyncIterator[Proxy]:
    dsn = postgres.target("s").split("?")[0]
    chosen = Proxy(dsn)
    await chosen.up()
    try:
        yield chosen
    finally:
        await chosen.down()


async def test_driver_failures_become_server_errors_and_ours_pass_through() -> None:
    @server_errors
    async def lost() -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    with pytest.raises(ServerError, match="closed") as failed:
        await lost()
    assert isinstance(failed.value.__cause__, asyncpg.exceptions.ConnectionDoesNotExistError)

    @server_errors
    async def ours() -> None:
        raise DeadlineError("late")

    with pytest.raises(DeadlineError):
        await ours()

    @server_errors
    async def timed_out() -> None:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await timed_out()


async def test_a_server_that_goes_away_and_comes_back(postgres: Backend, proxy: Proxy) -> None:
    schema = postgres.schemas.setdefault("s", postgres.target("s").split("schema=")[1])
    through = with_query(proxy.dsn, schema=schema)
    direct = postgres.target("s")
    async with (
        Cache(through) as cache,
        Flags(through, refresh_interval=0.05) as flags,
        Flags(direct) as other,
    ):
        await cache.set("k", 1)
        await proxy.down()
        with pytest.raises(ServerError):
            await cache.get("k")
        with pytest.raises(ServerError):
            await flags.set("f", enabled=True)
        await other.set("f", enabled=True)  # changed while this host can't see the server
        await asyncio.sleep(0.2)  # a few of the flags' refresh attempts fail meanwhile
        assert not flags.is_enabled("f")  # the last snapshot keeps answering
        await proxy.up()
        for _ in range(2000):  # up to 10 s: the refresh loop carried on and reloads
            if flags.is_enabled("f"):
                break
            await asyncio.sleep(0.005)
        assert flags.is_enabled("f")
        assert await cache.get("k") == 1
