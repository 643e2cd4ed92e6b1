"""What every connection thread shares: opening, running one request, stopping it early."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any

from loopsafe import errors
from loopsafe.engine._connect import connect
from loopsafe.engine._options import Options
from loopsafe.engine._request import Request, run
from loopsafe.engine._translate import translate
from loopsafe.engine._wakeup import Completions

STOP = None  # the sentinel a queue receives when its thread must finish


def stopped_error(req: Request) -> errors.Error:
    """The error of a call that was stopped before or while it ran."""
    if req.timed_out or (req.deadline is not None and monotonic() > req.deadline):
        req.timed_out = True
        return errors.DeadlineError("the call's deadline passed; its statement was stopped")
    return errors.AbortedError("the call was cancelled; its statement was stopped")


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
        ready: Request,
        exited: Request,
        memory_name: str,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.options = options
        self.completions = completions
        self.ready = ready
        self.exited = exited
        self.memory_name = memory_name
        self.conn = None
        self.current: Request | None = None
        self.stopping = False  # set when the Database closes: queued work fails at once

    def run(self) -> None:
        try:
            conn = connect(self.options, writer=self.writer, memory_name=self.memory_name)
        except BaseException as exc:
            self.ready.error = translate(exc, None)
            self.completions.post(self.ready)
            self.completions.post(self.exited)
            return
        conn.set_progress_handler(self._progress, self.options.progress_steps)
        self.conn = conn
        self.completions.post(self.ready)
        try:
            self.serve(conn)
        finally:
            self.close_connection()
            self.completions.post(self.exited)

    def serve(self, conn: sqlite3.Connection) -> None:
        """Take requests from this thread's queue until the stop sentinel."""
        raise NotImplementedError

    def interrupt(self) -> None:
        """Closing: fail what this thread still holds, stop what it runs now (loop thread)."""
        self.stopping = True
        req = self.current
        if req is not None:
            req.stop()

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
        return self.guard(req, run, conn, req)

    def guard(self, req: Request, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(*args)`` on behalf of ``req``: skipped if ``req`` was already stopped,
        interruptible by its deadline or cancellation, result or error stored on ``req``."""
        if req.cancelled or (req.deadline is not None and monotonic() > req.deadline):
            req.error = stopped_error(req)
            return False
        req.worker = self
        self.current = req
        try:
            req.result = fn(*args)
            return True
        except BaseException as exc:
            req.error = self.error(exc, req)
            return False
        finally:
            self.current = None

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
