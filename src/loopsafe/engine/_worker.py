"""What every connection thread shares: opening, running one request, stopping it early."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from time import monotonic
from typing import Any

from loopsafe import errors
from loopsafe.engine._completions import Completions
from loopsafe.engine._connect import connect
from loopsafe.engine._hooks import Hooks
from loopsafe.engine._options import Options
from loopsafe.engine._request import (
    CALL,
    CALL_ALONE,
    CONFIGURE,
    EXECUTE,
    EXECUTEMANY,
    FETCHALL,
    FETCHONE,
    FETCHVAL,
    RESULT,
    SCRIPT,
    STOP,
    ExecuteResult,
    Params,
    Request,
    Stop,
)
from loopsafe.engine._result import Result
from loopsafe.engine._routing import inserts_rows
from loopsafe.engine._translate import translate


def is_stopped(req: Request) -> bool:
    """Whether ``req``'s caller went away or its deadline passed (any thread)."""
    if req.cancelled:
        return True
    if req.deadline is not None and monotonic() > req.deadline:
        req.timed_out = True
        return True
    return False


def stopped_error(req: Request) -> errors.Error:
    """The error of a call that was stopped before or while it ran."""
    if req.timed_out or (req.deadline is not None and monotonic() > req.deadline):
        req.timed_out = True
        return errors.DeadlineError("the call's deadline passed; its statement was stopped")
    return errors.AbortedError("the call was cancelled; its statement was stopped")


def run_operation(conn: sqlite3.Connection, req: Request) -> Any:
    """Run one request's operation on ``conn`` (in its thread) and return its result."""
    op = req.op
    if op is FETCHONE:
        return conn.execute(req.sql, req.params).fetchone()
    if op is FETCHALL:
        return conn.execute(req.sql, req.params).fetchall()
    if op is RESULT:
        return _result(conn, req)
    if op is FETCHVAL:
        row = conn.execute(req.sql, req.params).fetchone()
        if row is None:
            return None
        return next(iter(row.values())) if isinstance(row, dict) else row[0]
    if op is EXECUTE or op is EXECUTEMANY:
        before = conn.total_changes
        if op is EXECUTE:
            cur = conn.execute(req.sql, req.params)
        else:
            params: Iterable[Params] = req.params
            cur = conn.executemany(req.sql, params)
        changed = conn.total_changes - before
        rowcount = cur.rowcount
        if rowcount < 0 and cur.description is None:
            rowcount = changed  # sqlite3 reports -1 for `WITH ... INSERT`
        # The connection's last insert rowid outlives the statement: an INSERT that inserted
        # nothing, or an UPDATE, would report a row some earlier call (maybe another task's,
        # in another table) inserted.
        lastrowid = cur.lastrowid if changed and inserts_rows(req.sql) else None
        return ExecuteResult(rowcount, lastrowid)
    if op is CALL:
        assert req.fn is not None
        result = req.fn(conn)
        if isinstance(result, sqlite3.Cursor):
            # A live cursor would keep its statement (and a read snapshot) open on this
            # thread after the call: hand over its rows or its counts instead.
            return _drain_cursor(result)
        return result
    if op is CONFIGURE or op is CALL_ALONE:
        assert req.fn is not None
        req.fn(conn)
        return None
    if op is SCRIPT:
        for statement in split_script(req.sql):
            # One statement at a time, so a deadline or a cancel stops the script between
            # statements too (an interrupt only reaches the statement running at that instant).
            if is_stopped(req):
                raise stopped_error(req)
            conn.execute(statement).close()
        return None
    raise AssertionError(f"{op} is not an operation a connection runs by itself")


def _result(conn: sqlite3.Connection, req: Request) -> Result:
    shape = req.shape
    if shape is not None and shape.text_factory is not str:
        conn.text_factory = shape.text_factory  # for this call only: restored below
        try:
            return _fetch_result(conn, req)
        finally:
            conn.text_factory = str
    return _fetch_result(conn, req)


def _fetch_result(conn: sqlite3.Connection, req: Request) -> Result:
    before = conn.total_changes
    cur = conn.execute(req.sql, req.params)
    try:
        shape = req.shape
        if shape is not None and shape.row_factory is not None:
            cur.row_factory = shape.row_factory
        description = cur.description
        rows = cur.fetchall() if description is not None else []
        changed = conn.total_changes - before
        rowcount = cur.rowcount
        if rowcount < 0 and changed:
            rowcount = changed  # sqlite3 reports -1 for `WITH ... INSERT`
        # As for EXECUTE: the connection's last insert rowid outlives the statement.
        lastrowid = cur.lastrowid if changed and inserts_rows(req.sql) else None
        return Result(rows, description, rowcount, lastrowid)
    finally:
        cur.close()


def split_script(script: str) -> Iterator[str]:
    """The statements of ``script``, each with its terminating semicolon.

    A semicolon ends a statement only where SQLite agrees the text so far is complete, so
    semicolons inside string literals, identifiers, comments and trigger bodies stay put.
    """
    start = 0
    end = script.find(";")
    while end != -1:
        if sqlite3.complete_statement(script[start : end + 1]):
            yield script[start : end + 1]
            start = end + 1
        end = script.find(";", end + 1)
    if script[start:].strip():
        yield script[start:]


def _drain_cursor(cursor: sqlite3.Cursor) -> Any:
    try:
        if cursor.description is not None:
            return cursor.fetchall()
        return ExecuteResult(cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


class Worker(threading.Thread):
    """A daemon thread owning exactly one connection for the Database's whole life.

    Daemon, so a program that never closes its Database still exits; an ``atexit`` hook
    stops the threads cleanly first when it can.
    """

    conn: sqlite3.Connection | None

    writer = False

    def __init__(
        self,
        name: str,
        options: Options,
        completions: Completions,
        started: Request,
        exited: Request,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.options = options
        self.completions = completions
        self.started = started
        self.exited = exited
        self.conn = None
        self.current: Request | None = None
        self.stopping = False  # set when the Database closes: queued work fails at once
        self.hooks = Hooks()  # the Database's configure() functions (the pool shares one)
        self.hooks_done = 0  # how many of them this connection has run

    def run(self) -> None:
        try:
            conn = connect(self.options, writer=self.writer)
        except BaseException as exc:
            self.started.error = translate(exc, None)
            self.completions.post(self.started)
            self.completions.post(self.exited)
            return
        conn.set_progress_handler(self._progress, self.options.progress_steps)
        self.conn = conn
        self.hooks_done = self.hooks.catch_up(conn, 0)
        self.completions.post(self.started)
        try:
            self.serve(conn)
        finally:
            self.close_connection()
            self.completions.post(self.exited)

    def serve(self, conn: sqlite3.Connection) -> None:
        """Take requests from this thread's queue until the stop signal."""
        raise NotImplementedError

    def interrupt(self) -> None:
        """Closing: fail what this thread still holds, stop what it runs now (loop thread)."""
        self.stopping = True
        req = self.current
        if req is not None:
            req.stop()

    def fail_unanswered(self, reqs: Iterable[Request | Stop], exc: BaseException) -> None:
        """After a bug in this thread's own code: fail what it has not answered yet."""
        for req in reqs:
            if req is not STOP and not req.answered:
                req.result = None
                req.error = exc
                self.completions.post(req)

    def _progress(self) -> int:
        # Called by SQLite every `progress_steps` VM instructions of a running statement.
        # The loop interrupts a cancelled call at once (Request.stop); this check is the
        # backstop that enforces deadlines even when the loop itself is too busy to.
        # Coarse on purpose: each call needs the GIL, which a scan otherwise leaves free.
        req = self.current
        if req is None:
            return 0
        if req.cancelled:
            return 1
        deadline = req.deadline
        if deadline is not None and monotonic() > deadline:
            req.timed_out = True
            return 1
        return 0

    def execute(self, conn: sqlite3.Connection, req: Request) -> bool:
        """Run ``req``'s operation; fill in its result or error. True when it succeeded."""
        return self.guard(req, run_operation, conn, req)

    def guard(self, req: Request, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(*args)`` on behalf of ``req``: skipped if ``req`` was already stopped,
        interruptible by its deadline or cancellation, result or error stored on ``req``.

        A call of several statements that finished after its caller went away (or past
        its deadline) counts as stopped: the interrupt only reached the statement running
        at that instant, and the caller must not be told, or committed, otherwise.
        """
        if req.cancelled or (req.deadline is not None and monotonic() > req.deadline):
            req.error = stopped_error(req)
            return False
        req.worker = self
        self.current = req
        try:
            req.result = fn(*args)
        except BaseException as exc:
            req.error = self.error(exc, req)
            return False
        finally:
            self.current = None
        if req.op.multi_statement and is_stopped(req):
            req.result = None
            req.error = stopped_error(req)
            return False
        return True

    def error(self, exc: BaseException, req: Request) -> BaseException:
        if self.stopping and isinstance(exc, sqlite3.OperationalError):
            return errors.ClosedError("the Database closed; the statement was stopped")
        if isinstance(exc, sqlite3.OperationalError) and (
            getattr(exc, "sqlite_errorname", "") == "SQLITE_INTERRUPT" or str(exc) == "interrupted"
        ):
            return stopped_error(req)
        return translate(exc, req.sql or None)

    def close_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass  # closing at shutdown: nothing useful to report to anyone
