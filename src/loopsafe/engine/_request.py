"""One call on its way from a task to a connection thread and back."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Operations. Small ints keep dispatch in the worker threads cheap.
FETCHONE = 0
FETCHALL = 1
FETCHVAL = 2
EXECUTE = 3
EXECUTEMANY = 4
CALL = 5  # run a user callable with the connection
ITERATE = 6  # open a cursor and stream it in chunks
TRANSACTION = 7  # take the writer for one task's transaction
SAVEPOINT = 8
RELEASE = 9
ROLLBACK_TO = 10
COMMIT = 11
ROLLBACK = 12
SCRIPT = 13  # several statements separated by semicolons, outside any transaction

Params = Sequence[Any] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExecuteResult:
    """What ``execute`` / ``executemany`` report: rows changed and the last inserted rowid."""

    rowcount: int
    lastrowid: int | None


class Request:
    """A call in flight. The loop thread creates it; exactly one worker thread fills it in.

    ``cancelled`` is written by the loop thread and read by the worker (and its progress
    handler) so a call whose caller went away stops at the next check.
    """

    __slots__ = (
        "arg",
        "cancelled",
        "deadline",
        "error",
        "fut",
        "lane",
        "op",
        "params",
        "result",
        "sql",
        "timed_out",
        "worker",
    )

    def __init__(
        self,
        op: int,
        sql: str,
        params: Any,
        fut: asyncio.Future[Any],
        deadline: float | None,
        lane: Any = None,
        arg: Any = None,
    ) -> None:
        self.op = op
        self.sql = sql
        self.params = params
        self.fut = fut
        self.deadline = deadline
        self.lane = lane
        self.arg = arg
        self.cancelled = False
        self.timed_out = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.worker: Any = None  # the thread running it, once started

    def stop(self) -> None:
        """Stop this call (loop thread): flag it, and interrupt its statement if it runs now.

        The loop thread holds the GIL here and the worker needs the GIL to move on to its
        next request, so ``worker.current is self`` cannot change under us: the interrupt
        lands on this call's statement (or, if that just finished, on nothing: SQLite clears
        the flag when the next statement starts on an idle connection).
        """
        self.cancelled = True
        worker = self.worker
        if worker is not None and worker.current is self:
            conn = worker.conn
            if conn is not None:
                conn.interrupt()


def run(conn: sqlite3.Connection, req: Request) -> Any:
    """Run one plain operation on ``conn`` (in a worker thread) and return its result."""
    op = req.op
    if op == FETCHONE:
        return conn.execute(req.sql, req.params).fetchone()
    if op == FETCHALL:
        return conn.execute(req.sql, req.params).fetchall()
    if op == FETCHVAL:
        row = conn.execute(req.sql, req.params).fetchone()
        if row is None:
            return None
        return next(iter(row.values())) if isinstance(row, dict) else row[0]
    if op == EXECUTE:
        before = conn.total_changes
        cur = conn.execute(req.sql, req.params)
        rowcount = cur.rowcount
        if rowcount < 0 and cur.description is None:
            rowcount = conn.total_changes - before  # sqlite3 reports -1 for `WITH ... INSERT`
        return ExecuteResult(rowcount, cur.lastrowid)
    if op == EXECUTEMANY:
        params: Iterable[Params] = req.params
        cur = conn.executemany(req.sql, params)
        return ExecuteResult(cur.rowcount, cur.lastrowid)
    if op == CALL:
        fn: Callable[[sqlite3.Connection], Any] = req.arg
        result = fn(conn)
        if isinstance(result, sqlite3.Cursor):
            # A live cursor would keep its statement (and a read snapshot) open on this
            # thread after the call: hand over its rows or its counts instead.
            return _drain_cursor(result)
        return result
    if op == SCRIPT:
        conn.executescript(req.sql)
        return None
    raise AssertionError(f"operation {op} is not a plain operation")


def _drain_cursor(cursor: sqlite3.Cursor) -> Any:
    try:
        if cursor.description is not None:
            return cursor.fetchall()
        return ExecuteResult(cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()
