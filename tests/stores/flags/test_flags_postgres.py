"""What only Flags on PostgreSQL have: a change is announced (NOTIFY), and every other
process's snapshot reloads at once, with polling left as the fallback."""

from __future__ import annotations

import asyncio
import sys

from loopsafe import Flags
from loopsafe.stores.flags._postgres import channel

from ..conftest import Backend

NEVER = 3600.0  # a refresh interval no test outlives: what is seen was announced


async def seen(flags: Flags, name: str, actor: str | None = None) -> bool:
    for _ in range(2000):  # up to 10 s
        if flags.is_enabled(name, actor):
            return True
        await asyncio.sleep(0.005)
    return False


async def test_a_change_reaches_another_object_without_a_poll(postgres: Backend) -> None:
    target = postgres.target("f")
    async with (
        Flags(target, refresh_interval=NEVER) as a,
        Flags(target, refresh_interval=NEVER) as b,
    ):
        await a.set("f", enabled=True)
        assert await seen(b, "f")
        await a.delete("f")
        for _ in range(2000):
            if not b.is_enabled("f"):
                break
            await asyncio.sleep(0.005)
        assert not b.is_enabled("f")
        assert b.stats().reloads == 3  # on open, and once per change


SETTER = """
import asyncio, sys, loopsafe
async def main(target):
    async with loopsafe.Flags(target) as flags:
        await flags.set("from-child", actors=["u1"], by="child")
asyncio.run(main(sys.argv[1]))
"""


async def test_a_change_in_another_process_is_announced(postgres: Backend) -> None:
    target = postgres.target("f")
    async with Flags(target, refresh_interval=NEVER) as flags:
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", SETTER, target)
        assert await child.wait() == 0
        assert await seen(flags, "from-child", "u1")
        assert [e.by for e in await flags.audit("from-child")] == ["child"]


async def test_a_lost_listener_falls_back_to_polling_and_listens_again(
    postgres: Backend,
) -> None:
    target = postgres.target("f")
    conn = await postgres.connect("f")
    listen = f'LISTEN "{channel(postgres.schemas["f"])}"'
    try:
        async with Flags(target, refresh_interval=0.05) as a, Flags(target) as b:
            # Both objects listen; cut every such connection, as a server restart would.
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1",
                listen,
            )
            assert killed == 2
            await b.set("f", enabled=True)
            assert await seen(a, "f")  # by polling: nobody listened when it changed
            listening = 0
            for _ in range(2000):  # a's next wait makes its listener again
                listening = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = $1", listen
                )
                if listening:
                    break
                await asyncio.sleep(0.005)
            assert listening >= 1
            await b.set("g", enabled=True)
            assert await seen(a, "g")
    finally:
        await conn.close()


def test_channels_fit_postgres_identifiers() -> None:
    assert channel("app") == "loopsafe_flags_app"
    long = channel("s" * 63)
    assert len(long) <= 63
    assert long != channel("s" * 62 + "t")


async def test_a_lost_listener_is_made_again_without_waiting_for_a_poll(
    postgres: Backend,
) -> None:
    target = postgres.target("f")
    async with (
        Flags(target, refresh_interval=NEVER) as a,
        Flags(target, refresh_interval=NEVER) as b,
    ):
        # Both objects listen; cut every such connection, as a server restart would.
        conn = await postgres.connect("f")
        try:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1",
                f'LISTEN "{channel(postgres.schemas["f"])}"',
            )
        finally:
            await conn.close()
        assert killed == 2
        # Changed while a may not be listening: heard once it is back, or seen by the look
        # it takes when its listener is made again. No poll comes in time.
        await b.set("f", enabled=True)
        assert await seen(a, "f")
        await b.set("g", enabled=True)
        assert await seen(a, "g")
