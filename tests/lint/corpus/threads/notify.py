"""Helpers that touch asyncio from whatever thread calls them."""

import asyncio


def resolve(fut: asyncio.Future[int], value: int) -> None:
    fut.set_result(value)


def resolve_later(fut: asyncio.Future[int], value: int) -> None:
    resolve(fut, value)


def wake(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[int]) -> None:
    resolve_later(fut, 1)


def wake_all(loop: asyncio.AbstractEventLoop, futures: list[asyncio.Future[int]]) -> None:
    for fut in futures:
        wake(loop, fut)


class Signals:
    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self.changed = asyncio.Condition()

    def fire(self) -> None:
        self.ready.set()

    def push(self, item: int) -> None:
        self.queue.put_nowait(item)

    def announce(self) -> None:
        self.changed.notify_all()
