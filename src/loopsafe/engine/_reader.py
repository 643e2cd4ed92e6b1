"""A reader thread: takes reads from the shared read queue, a share at a time."""

from __future__ import annotations

import queue
import sqlite3
from time import perf_counter
from typing import Any

from loopsafe import errors
from loopsafe.engine._channel import Channel
from loopsafe.engine._request import ITERATE, Request
from loopsafe.engine._worker import STOP, Worker

BATCH = 32  # most reads one reader takes at once
SLOW = 0.001  # seconds: a statement slower than this is not batched with others
_SEEN_LIMIT = 4096
# Statement texts by cost, shared by all readers: only statements known to be fast share a
# batch (and its single wake-up); an unknown or slow one runs alone so it never holds
# finished results back, and the rest of its batch goes back to the queue for an idle reader.
_fast: set[str] = set()


class Reader(Worker):
    """Serves the read lane with its own ``query_only`` connection.

    It takes what is queued (up to ``BATCH``) and reports it in one wake-up of the loop:
    fewer wake-ups, fewer GIL hand-offs.
    """

    def __init__(self, *args: Any, source: queue.SimpleQueue[Any], iterators: set[Any]) -> None:
        super().__init__(*args)
        self.source = source
        self.iterators = iterators

    def serve(self, conn: sqlite3.Connection) -> None:
        source = self.source
        get, empty, get_nowait = source.get, source.empty, source.get_nowait
        post_many = self.completions.post_many
        execute = self.execute
        while True:
            batch = [get()]
            while len(batch) < BATCH and not empty():
                try:
                    batch.append(get_nowait())
                except queue.Empty:
                    break
            done: list[Request] = []
            for index, req in enumerate(batch):
                ran = False
                if req is not STOP and req.op != ITERATE and req.sql in _fast:
                    started = perf_counter()
                    execute(conn, req)
                    done.append(req)
                    if perf_counter() - started < SLOW:
                        continue
                    _fast.discard(req.sql)  # it was slow this time (other parameters?)
                    ran = True
                # Report what is finished before anything slow starts (or after something
                # slow ended), and hand the rest of the batch to another reader.
                post_many(done)
                done = []
                for rest in batch[index + 1 :]:
                    source.put(rest)  # another reader takes it (or its own STOP)
                if req is STOP:
                    return
                if not ran:
                    if req.op == ITERATE:
                        self.iterate(conn, req)
                    else:
                        self.alone(conn, req)
                break
            post_many(done)

    def alone(self, conn: sqlite3.Connection, req: Request) -> None:
        started = perf_counter()
        ok = self.execute(conn, req)
        self.completions.post(req)
        if ok and req.sql and perf_counter() - started < SLOW:
            if len(_fast) >= _SEEN_LIMIT:
                _fast.clear()  # SQL built by string formatting must not grow memory
            _fast.add(req.sql)

    def iterate(self, conn: sqlite3.Connection, req: Request) -> None:
        """Stream a cursor in chunks. The reader stays with this cursor until it is exhausted,
        closed by its consumer, or left idle past ``iterate_idle_timeout``."""
        chunk: int = req.arg[0]
        channel: Channel = req.arg[1]
        self.iterators.add(channel)
        cursor: sqlite3.Cursor | None = None
        why: BaseException = errors.ClosedError("the iteration ended")
        try:
            if not self.guard(req, conn.execute, req.sql, req.params):
                self.completions.post(req)
                return
            cursor = req.result
            step = req
            while True:
                if not self.guard(step, cursor.fetchmany, chunk):
                    self.completions.post(step)
                    return
                rows = step.result
                step.result = (rows, len(rows) == chunk)
                self.completions.post(step)
                if len(rows) < chunk:
                    return
                try:
                    nxt = channel.queue.get(timeout=self.options.iterate_idle_timeout)
                except queue.Empty:
                    why = errors.DeadlineError(
                        "the iteration sat idle past iterate_idle_timeout and was closed"
                    )
                    return
                if nxt is STOP:
                    why = errors.ClosedError("the iteration was closed")
                    return
                step = nxt
        finally:
            channel.close(why, self.completions)
            self.iterators.discard(channel)
            if cursor is not None:
                cursor.close()
