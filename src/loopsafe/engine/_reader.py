"""A reader thread: takes reads from the shared read queue, one at a time."""

from __future__ import annotations

import queue
import sqlite3
from typing import Any

from loopsafe.engine._request import ITERATE, Request
from loopsafe.engine._worker import STOP, Worker

BATCH = 32  # most reads one reader takes at once


class Reader(Worker):
    """Serves the read lane with its own ``query_only`` connection."""

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
            # Take what is already queued (a share, so other readers get work too) and
            # report it in one wake-up of the loop: fewer wake-ups, fewer GIL hand-offs.
            while len(batch) < BATCH and not empty():
                try:
                    batch.append(get_nowait())
                except queue.Empty:
                    break
            done: list[Request] = []
            for req in batch:
                if req is STOP:
                    post_many(done)
                    for rest in batch[batch.index(req) + 1 :]:
                        source.put(rest)  # another reader will take it (or its own STOP)
                    return
                if req.op == ITERATE:
                    post_many(done)
                    done = []
                    self.iterate(conn, req)
                    continue
                execute(conn, req)
                done.append(req)
            post_many(done)

    def iterate(self, conn: sqlite3.Connection, req: Request) -> None:
        """Stream a cursor in chunks. The reader stays with this cursor until it is exhausted,
        closed by its consumer, or left idle past ``iterate_idle_timeout``."""
        chunk: int = req.arg[0]
        channel: queue.SimpleQueue[Request | None] = req.arg[1]
        self.iterators.add(channel)
        cursor: sqlite3.Cursor | None = None
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
                    nxt = channel.get(timeout=self.options.iterate_idle_timeout)
                except queue.Empty:
                    return  # the consumer walked away without closing
                if nxt is STOP:
                    return
                step = nxt
        finally:
            self.iterators.discard(channel)
            if cursor is not None:
                cursor.close()
