"""Coroutines that ask for the loop with get_event_loop()."""

import asyncio
from asyncio import get_event_loop

import asyncio as aio


async def schedule() -> None:
    loop = asyncio.get_event_loop()  # expect: LS701
    loop.call_soon(print, "x")


async def imported_name() -> asyncio.Future[None]:
    return get_event_loop().create_future()  # expect: LS701


async def aliased() -> float:
    return aio.get_event_loop().time()  # expect: LS701


class Client:
    async def connect(self) -> None:
        self.loop = asyncio.get_event_loop()  # expect: LS701
