"""The project's own wrappers around the thread runners."""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return asyncio.to_thread(fn, *args)


async def run_blocking(job: Callable[[], Any]) -> Any:
    return await in_thread(job)


class Pool:
    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor()

    def spawn(self, fn: Callable[[], Any]) -> Future[Any]:
        return self.executor.submit(fn)


def not_a_wrapper(fn: Callable[[], Any]) -> Any:
    fn = print
    return asyncio.to_thread(fn)


async def as_starlette_does(func: Callable[..., Any], *args: Any) -> Any:
    func = functools.partial(func, *args)
    return await asyncio.to_thread(func)
