"""The worker pool: a Database's writer and readers, started, stopped, and stopped at exit."""

from __future__ import annotations

import asyncio
import atexit
import queue
import weakref
from collections.abc import Sequence
from typing import Any

from loopsafe import errors
from loopsafe.engine._completions import Completions
from loopsafe.engine._hooks import Hooks
from loopsafe.engine._lane import Lane
from loopsafe.engine._options import Options
from loopsafe.engine._reader import Reader
from loopsafe.engine._request import STOP, FollowUps, Op, Request
from loopsafe.engine._worker import Worker
from loopsafe.engine._writer import Writer

CLOSE_GRACE = 1.0  # seconds queued work may take to finish before close() fails it

_alive: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


class WorkerPool:
    """The writer and the readers of one Database."""

    def __init__(self, options: Options, completions: Completions, read: Lane, write: Lane) -> None:
        self.options = options
        self.completions = completions
        self.read = read
        self.write = write
        self.iterators: set[FollowUps] = set()
        self.workers: list[Worker] = []
        self.writer: Writer | None = None
        self.hooks = Hooks()  # configure() functions, shared by every thread

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the writer first (it creates the file and turns on WAL), then the readers."""
        if not self.options.readonly:
            writer = self._spawn(Writer, loop, "loopsafe-writer", self.write)
            assert isinstance(writer, Writer)
            self.writer = writer
            await self._ready(loop)
        # In-memory SQLite has no WAL: readers would block the writer's commits, so the
        # writer serves everything.
        for index in range(0 if self.options.memory else self.options.readers):
            self._spawn(Reader, loop, f"loopsafe-reader-{index}", self.read)
        await self._ready(loop)
        _alive.add(self)

    def _spawn(
        self, cls: type[Worker], loop: asyncio.AbstractEventLoop, name: str, lane: Lane
    ) -> Worker:
        started = Request(Op.STARTED, loop.create_future())
        exited = Request(Op.EXITED, loop.create_future())
        extra: dict[str, Any] = {"source": lane.queue}
        if cls is Reader:
            extra["iterators"] = self.iterators
        worker = cls(name, self.options, self.completions, started, exited, **extra)
        worker.hooks = self.hooks
        self.workers.append(worker)
        worker.start()
        return worker

    async def _ready(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = [w.started.fut for w in self.workers]
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
            channel.stop()
        if self.writer is not None and self.writer.channel is not None:
            self.writer.channel.stop()  # roll back the open transaction

    async def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Finish queued work, fail what is left after the grace period, join the threads.

        Readers stop first, the writer last: the last connection to close checkpoints the
        WAL into the database file and removes it, and only the writer may do that.
        """
        _alive.discard(self)
        for lane in (self.read, self.write):
            lane.fail_waiters(errors.ClosedError("the Database closed"))
        deadline = loop.time() + CLOSE_GRACE
        readers = [w for w in self.workers if isinstance(w, Reader)]
        for _ in readers:
            self.read.queue.put(STOP)
        for channel in list(self.iterators):
            channel.stop()
        await self._wait_for(readers, loop, deadline)
        if self.writer is not None:
            self.write.queue.put(STOP)
            if self.writer.channel is not None:
                self.writer.channel.stop()  # roll back the open transaction
            await self._wait_for([self.writer], loop, deadline)
        self._fail_queued()  # anything a stopping thread put back for the others
        await asyncio.to_thread(self._join)

    async def _wait_for(
        self, workers: Sequence[Worker], loop: asyncio.AbstractEventLoop, deadline: float
    ) -> None:
        running = [w.exited.fut for w in workers if not w.exited.fut.done()]
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=max(0.0, deadline - loop.time()))
        if late:
            for worker in workers:
                worker.interrupt()
            self._fail_queued()
            await asyncio.wait(late, timeout=CLOSE_GRACE)

    def _join(self) -> None:
        for worker in self.workers:
            worker.join(timeout=CLOSE_GRACE)  # they have posted their exit: a moment at most

    def _fail_queued(self) -> None:
        for lane in (self.read, self.write):
            while True:
                try:
                    req = lane.queue.get_nowait()
                except queue.Empty:
                    break
                if req is STOP:
                    continue
                req.cancelled = True
                lane.release()
                if not req.fut.done():
                    req.fut.set_exception(
                        errors.ClosedError("the Database closed before the call ran")
                    )
        if any(w.is_alive() for w in self.workers):
            self.signal_stop()

    def terminate(self) -> None:
        """Stop now, without waiting (loop thread): fail every queued call with
        ``ClosedError``, stop running statements, roll back an open transaction; the
        threads close their connections and exit by themselves."""
        _alive.discard(self)
        for lane in (self.read, self.write):
            lane.fail_waiters(errors.ClosedError("the Database was terminated"))
        for worker in self.workers:
            worker.interrupt()
        self.signal_stop()
        self._fail_queued()

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
