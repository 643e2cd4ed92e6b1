"""Clean: thread-side code that reaches the loop only through its thread-safe doors."""

import asyncio
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import janus

from threads import offload


def finish_safely(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[int]) -> None:
    loop.call_soon_threadsafe(fut.set_result, 1)
    loop.call_soon_threadsafe(lambda: fut.set_exception(RuntimeError("late")))


def submit_coroutine(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result()


def thread_primitives(stop: threading.Event, jobs: queue.Queue[int]) -> None:
    stop.set()
    jobs.put_nowait(1)
    with threading.Condition() as changed:
        changed.notify_all()


def janus_side(channel: janus.Queue[int]) -> None:
    channel.sync_q.put(1)
    channel.sync_q.put_nowait(2)


async def on_the_loop() -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    fut.set_result(1)
    loop.call_soon(print, "on the loop")
    asyncio.Event().set()
    asyncio.Queue[int]().put_nowait(1)
    stop, jobs = threading.Event(), queue.Queue[int]()
    await asyncio.to_thread(finish_safely, loop, loop.create_future())
    await asyncio.to_thread(submit_coroutine, loop)
    await asyncio.to_thread(thread_primitives, stop, jobs)
    await asyncio.to_thread(stop.set)
    await loop.run_in_executor(None, lambda: loop.call_soon_threadsafe(print, "hi"))
    channel: janus.Queue[int] = janus.Queue()
    await asyncio.to_thread(janus_side, channel)
    with ThreadPoolExecutor() as pool:
        pool.submit(jobs.put_nowait, 2)


async def coroutine_handed_to_a_thread() -> None:
    async def touch() -> None:
        asyncio.get_running_loop().call_soon(print, "x")

    # Wrong in another way (a coroutine object is returned, never awaited), not this rule.
    await asyncio.to_thread(touch)


class SafePump(threading.Thread):
    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[int]) -> None:
        super().__init__(daemon=True)
        self.loop = loop
        self.queue = queue

    def run(self) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, 1)


class Job:
    """Not a thread: its run() is called on the loop."""

    def __init__(self) -> None:
        self.done = asyncio.Event()

    def run(self) -> None:
        self.done.set()


async def run_job() -> None:
    Job().run()


def own_loop_thread(loop: asyncio.AbstractEventLoop, callback: object) -> None:
    # This thread runs the loop: it is the loop's thread (redis-py's background scheduler).
    asyncio.set_event_loop(loop)
    loop.call_soon(print, callback)
    loop.run_forever()


class LoopThread(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    def run(self) -> None:
        self.loop.call_soon(self.ready.set)
        self.loop.run_forever()


def start_own_loops() -> None:
    threading.Thread(target=own_loop_thread, args=(asyncio.new_event_loop(), None)).start()
    LoopThread().start()


async def wrapper_that_rebinds() -> None:
    fut = asyncio.get_running_loop().create_future()
    # ``not_a_wrapper`` replaces its argument before handing anything to a thread.
    await offload.not_a_wrapper(lambda: fut.set_result(1))
    offload.in_thread(print, "only the first argument runs in the thread", fut)
