"""Clean: the running loop in coroutines; get_event_loop() where no coroutine runs."""

import asyncio


def main() -> None:
    loop = asyncio.get_event_loop_policy().new_event_loop()
    loop.run_until_complete(asyncio.sleep(0))


def loop_for_callbacks() -> asyncio.AbstractEventLoop:
    # A sync function: the lint cannot know whether a loop runs when it is called.
    return asyncio.get_event_loop()


async def running() -> float:
    loop = asyncio.get_running_loop()
    return loop.time()


async def through_sync_helper() -> None:
    loop_for_callbacks().call_soon(print, "x")


class Loop:
    def get_event_loop(self) -> None:
        pass


async def look_alike(thing: Loop) -> None:
    thing.get_event_loop()
