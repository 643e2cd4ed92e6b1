"""Functions run in worker threads that touch asyncio, directly and through helpers."""

import asyncio
import concurrent.futures
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
import loopsafe
from starlette.concurrency import run_in_threadpool

from threads import notify, offload
from threads.notify import Signals


def finish(fut: asyncio.Future[int]) -> None:
    fut.set_result(1)


def schedule(loop: asyncio.AbstractEventLoop) -> None:
    loop.call_soon(print, "done")
    loop.call_later(1.0, print, "later")


def spawn(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.ensure_future(asyncio.sleep(0))


def fail(fut: asyncio.Future[int]) -> None:
    fut.set_exception(RuntimeError("boom"))


async def to_thread_direct() -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    await asyncio.to_thread(finish, fut)  # expect: LS601
    await loop.run_in_executor(None, schedule, loop)  # expect: LS601
    await anyio.to_thread.run_sync(spawn, loop)  # expect: LS601
    await run_in_threadpool(fail, fut)  # expect: LS601


async def handed_straight_to_a_thread() -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    event = asyncio.Event()
    await asyncio.to_thread(fut.set_result, 1)  # expect: LS601
    await asyncio.to_thread(event.set)  # expect: LS601


async def lambdas_and_partials() -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    queue: asyncio.Queue[int] = asyncio.Queue()
    await asyncio.to_thread(lambda: fut.set_result(1))  # expect: LS601
    await loop.run_in_executor(None, lambda: queue.put_nowait(1))  # expect: LS601
    await asyncio.to_thread(functools.partial(finish, fut))  # expect: LS601
    await asyncio.to_thread(lambda: notify.resolve(fut, 2))  # expect: LS602(1)


async def through_helpers() -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    await asyncio.to_thread(notify.resolve, fut, 1)  # expect: LS601
    await asyncio.to_thread(notify.resolve_later, fut, 1)  # expect: LS602(1)
    await asyncio.to_thread(notify.wake, loop, fut)  # expect: LS602(2)
    await asyncio.to_thread(notify.wake_all, loop, [fut])  # expect: LS602(3)


async def loopsafe_callables(path: str) -> None:
    loop = asyncio.get_running_loop()
    async with loopsafe.open(path) as db:
        await db.read(lambda conn: loop.call_soon(print, conn))  # expect: LS601
        await db.write(functools.partial(schedule, loop))  # expect: LS601
    db2 = await loopsafe.open(path)
    fut = loop.create_future()
    await db2.read(lambda conn: notify.resolve(fut, 1))  # expect: LS602(1)


def start_threads(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[int]) -> None:
    threading.Thread(target=schedule, args=(loop,)).start()  # expect: LS601
    threading.Thread(None, finish, args=(fut,)).start()  # expect: LS601
    with ThreadPoolExecutor() as pool:
        pool.submit(notify.resolve_later, fut, 1)  # expect: LS602(1)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    executor.submit(lambda: loop.create_task(asyncio.sleep(0)))  # expect: LS601


class Service:
    def __init__(self) -> None:
        self.signals = Signals()
        self.ready = asyncio.Event()
        self.thread = threading.Thread(target=self.run)  # expect: LS601

    def run(self) -> None:
        self.ready.set()

    def run_helpers(self) -> None:
        self.signals.fire()
        self.signals.push(1)

    async def start(self) -> None:
        await asyncio.to_thread(self.run_helpers)  # expect: LS602(1)
        await asyncio.to_thread(self.signals.announce)  # expect: LS601


class Pump(threading.Thread):
    def __init__(self, queue: asyncio.Queue[int]) -> None:
        super().__init__(daemon=True)
        self.queue = queue

    def run(self) -> None:  # expect: LS601
        self.queue.put_nowait(1)


class Relay(Pump):
    def __init__(self, fut: asyncio.Future[int]) -> None:
        super().__init__(asyncio.Queue())
        self.fut = fut

    def run(self) -> None:  # expect: LS602(2)
        notify.resolve_later(self.fut, 1)


def run_private_loop() -> None:
    asyncio.run(asyncio.sleep(0))


def private_loop_then_foreign_future(fut: asyncio.Future[int]) -> None:
    # Running a private loop in a helper does not make this thread the future's loop.
    run_private_loop()
    fut.set_result(1)


async def hands_over_foreign_future() -> None:
    fut = asyncio.get_running_loop().create_future()
    await asyncio.to_thread(private_loop_then_foreign_future, fut)  # expect: LS601


async def through_wrappers() -> None:
    fut = asyncio.get_running_loop().create_future()
    await offload.in_thread(finish, fut)  # expect: LS601
    await offload.run_blocking(functools.partial(finish, fut))  # expect: LS601
    await offload.run_blocking(job=lambda: notify.resolve(fut, 1))  # expect: LS602(1)
    offload.Pool().spawn(lambda: fut.set_result(1))  # expect: LS601
    await offload.as_starlette_does(finish, fut)  # expect: LS601
