"""A reader thread: takes reads from the shared read queue, a share at a time.

Three policies, each in its own place:

- batching (``take_batch``): take what is queued, up to ``BATCH``, and report finished
  calls in one wake-up of the loop — fewer wake-ups, fewer GIL hand-offs;
- learning which statements are fast (``StatementCosts``): a statement text that ran
  under ``SLOW`` is trusted to share a batch next time; once slow, it is not;
- isolating slow ones (``serve_batch`` / ``run_alone``): an unknown or slow statement
  runs alone, after the finished results are reported, and the rest of its batch goes
  back to the queue for an idle reader, so it never holds other calls back.
"""

from __future__ import annotations

import queue
import sqlite3
from time import perf_counter
from typing import Any

from loopsafe import errors
from loopsafe.engine._request import CALL, ITERATE, STOP, FollowUps, Request, Stop
from loopsafe.engine._worker import Worker

BATCH = 32  # most reads one reader takes at once
SLOW = 0.001  # seconds: a statement slower than this is not batched with others


class StatementCosts:
    """Statement texts known to be fast, shared by all readers of the process.

    Bounded: SQL built by string formatting must not grow memory without bound. A set's
    ``add``/``discard``/``in`` are atomic under the GIL, so readers share it without a lock.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self.fast: set[str] = set()  # read directly in the hot path: `sql in costs.fast`

    def record(self, sql: str, seconds: float) -> None:
        """Remember how long ``sql`` took: fast ones may share a batch from now on."""
        if seconds >= SLOW:
            self.fast.discard(sql)  # slow this time (other parameters?): alone from now on
            return
        if len(self.fast) >= self.LIMIT:
            self.fast.clear()
        self.fast.add(sql)


_costs = StatementCosts()


class Reader(Worker):
    """Serves the read lane with its own ``query_only`` connection."""

    def __init__(
        self, *args: Any, source: queue.SimpleQueue[Any], iterators: set[FollowUps]
    ) -> None:
        super().__init__(*args)
        self.source = source
        self.iterators = iterators
        self.held: list[Request | Stop] = []  # taken from the queue, not yet handed on

    def serve(self, conn: sqlite3.Connection) -> None:
        while True:
            batch = self.take_batch()
            self.held = batch
            if self.hooks_done < len(self.hooks.fns):  # configure() added one: run it first
                self.hooks_done = self.hooks.catch_up(conn, self.hooks_done)
            try:
                if not self.serve_batch(conn, batch):
                    return
            except Exception as exc:  # a bug must not kill a reader: fail what it holds
                self.reset(conn)
                self.fail_unanswered(self.held, exc)
            self.held = []

    def take_batch(self) -> list[Request | Stop]:
        """Block for one call, then take whatever else is queued, up to ``BATCH``."""
        source = self.source
        batch: list[Request | Stop] = [source.get()]
        while len(batch) < BATCH and not source.empty():
            try:
                batch.append(source.get_nowait())
            except queue.Empty:
                break
        return batch

    def serve_batch(self, conn: sqlite3.Connection, batch: list[Request | Stop]) -> bool:
        """Run the batch's known-fast calls and report them together; at the first call
        that must run alone, report what is done, hand the rest back, run it. False on STOP."""
        done: list[Request] = []
        fast = _costs.fast
        for index, req in enumerate(batch):
            if req is not STOP and req.op is not ITERATE and req.sql in fast:
                started = perf_counter()
                self.execute(conn, req)
                done.append(req)
                elapsed = perf_counter() - started
                if elapsed < SLOW:
                    continue
                _costs.record(req.sql, elapsed)
                # It was slow this time: report what is finished, let others take the rest.
                self.report_and_hand_back(done, batch, index)
                return True
            self.report_and_hand_back(done, batch, index)
            if req is STOP:
                return False
            if req.op is ITERATE:
                self.iterate(conn, req)
            else:
                self.run_alone(conn, req)
            return True
        self.completions.post_many(done)
        return True

    def report_and_hand_back(
        self, done: list[Request], batch: list[Request | Stop], index: int
    ) -> None:
        """Report ``done`` now, and put ``batch[index + 1:]`` back for an idle reader."""
        self.completions.post_many(done)
        self.held = batch[index : index + 1]
        for rest in batch[index + 1 :]:
            self.source.put(rest)  # another reader takes it (or its own STOP)

    def run_alone(self, conn: sqlite3.Connection, req: Request) -> None:
        """Run one call by itself, report it at once, and learn whether it was fast."""
        started = perf_counter()
        ok = self.execute(conn, req)
        elapsed = perf_counter() - started
        if req.op is CALL:  # only callables can leave state behind (never batched: no sql)
            self.reset(conn)
        self.completions.post(req)
        if ok and req.sql:
            _costs.record(req.sql, elapsed)

    def reset(self, conn: sqlite3.Connection) -> None:
        """Leave the connection as the next call expects it: no open transaction (a
        ``read(fn)`` that ran BEGIN would keep a stale snapshot and block checkpoints for
        good) and ``query_only`` on."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error:
            pass  # the connection is unusable; the next call reports why

    def iterate(self, conn: sqlite3.Connection, req: Request) -> None:
        """Stream a cursor in chunks. The reader stays with this cursor until it is exhausted,
        closed by its consumer, or left idle past ``iterate_idle_timeout``."""
        channel = req.channel
        assert channel is not None
        chunk = req.chunk
        self.iterators.add(channel)
        cursor: sqlite3.Cursor | None = None
        why: BaseException = errors.ClosedError("the iteration ended")
        try:
            if not self.guard(req, conn.execute, req.sql, req.params):
                self.completions.post(req)
                return
            cursor = req.result
            assert cursor is not None
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
            channel.close(why, self.completions.post)
            self.iterators.discard(channel)
            if cursor is not None:
                cursor.close()
