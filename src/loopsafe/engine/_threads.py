"""Starting and stopping a Database's threads, and stopping them at interpreter exit."""

from __future__ import annotations

import asyncio
import atexit
import queue
import weakref
from typing import Any

from loopsafe import errors
from loopsafe.engine._lane import Lane
from loopsafe.engine._options import Options
from loopsafe.engine._reader import Reader
from loopsafe.engine._request import Request
from loopsafe.engine._wakeup import Completions
from loopsafe.engine._worker import STOP, Worker
from loopsafe.engine._writer import Writer

CLOSE_GRACE = 1.0  # seconds queued work may take to finish before close() fails it

_alive: weakref.WeakSet[Threads] = weakref.WeakSet()


class Threads:
    """The writer and the readers of one Database."""

    def __init__(self, options: Options, completions: Completions, read: Lane, write: Lane) -> None:
        self.options = options
        self.completions = completions
        self.read = read
        self.write = write
        self.iterators: set[queue.SimpleQueue[Any]] = set()
        self.workers: list[Worker] = []
        self.writer: Writer | None = None
        self.exits: list[asyncio.Future[Any]] = []

    async def start(self, loop: asyncio.AbstractEventLoop, memory_name: str) -> None:
        """Start the writer first (it creates the file and turns on WAL), then the readers."""
        if not self.options.readonly:
            writer = self._spawn(Writer, loop, "loopsafe-writer", memory_name, self.write)
            assert isinstance(writer, Writer)
            self.writer = writer
            await self._ready(loop)
        for index in range(self.options.readers):
            self._spawn(Reader, loop, f"loopsafe-reader-{index}", memory_name, self.read)
        await self._ready(loop)
        _alive.add(self)

    def _spawn(
        self, cls: type[Worker], loop: asyncio.AbstractEventLoop, name: str, memory: str, lane: Lane
    ) -> Worker:
        ready = Request(-1, "", None, loop.create_future(), None)
        exited = Request(-1, "", None, loop.create_future(), None)
        self.exits.append(exited.fut)
        extra: dict[str, Any] = {"source": lane.queue}
        if cls is Reader:
            extra["iterators"] = self.iterators
        worker = cls(name, self.options, self.completions, ready, exited, memory, **extra)
        self.workers.append(worker)
        worker.start()
        return worker

    async def _ready(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = [w.ready.fut for w in self.workers]
        results = await asyncio.gather(*pending, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.stop(loop)
            raise failures[0]

    def signal_stop(self) -> None:
        """Ask every thread to finish once its queued work is done (any thread, even GC)."""
        for worker in self.workers:
            (self.read if isinstance(worker, Reader) else self.write).queue.put(STOP)
        for channel in list(self.iterators):
            channel.put(STOP)
        if self.writer is not None and self.writer.channel is not None:
            self.writer.channel.queue.put(None)  # roll back the open transaction

    async def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Finish queued work, fail what is left after the grace period, join the threads."""
        _alive.discard(self)
        self.signal_stop()
        running = [f for f in self.exits if not f.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=CLOSE_GRACE)
            if late:
                self._fail_queued(loop)
                for worker in self.workers:
                    worker.interrupt()
                await asyncio.wait(late, timeout=CLOSE_GRACE)
        for waiter in [*self.read.waiters, *self.write.waiters]:
            if not waiter.done():
                waiter.set_exception(errors.Closed("the Database closed"))
        for worker in self.workers:
            worker.join(timeout=0.1)  # already finished: they posted their exit

    def _fail_queued(self, loop: asyncio.AbstractEventLoop) -> None:
        for lane in (self.read, self.write):
            while True:
                try:
                    req = lane.queue.get_nowait()
                except queue.Empty:
                    break
                if req is STOP:
                    continue
                req.cancelled = True
                lane.inflight -= 1
                if not req.fut.done():
                    req.fut.set_exception(errors.Closed("the Database closed before the call ran"))
        self.signal_stop()

    def stop_at_exit(self) -> None:
        """Blocking stop for interpreter exit, when no loop may be running any more."""
        self.signal_stop()
        for worker in self.workers:
            worker.join(timeout=CLOSE_GRACE)
            if worker.is_alive():
                worker.interrupt()


@atexit.register
def _stop_all_at_exit() -> None:
    # Runs before daemon threads are frozen: connections get closed (WAL checkpointed)
    # instead of abandoned mid-statement. Never blocks for more than about a second each.
    for threads in list(_alive):
        threads.stop_at_exit()
