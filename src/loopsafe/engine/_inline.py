"""The inline fast path: a cheap read answered on the loop's own thread, under a budget.

For an indexed point read the thread hop (two cross-thread wake-ups, tens of µs on small
VMs) costs several times the statement (a few µs in SQLite). So a read the readers have
already learned is fast runs here, on a ``query_only`` connection that only the loop's
thread uses, with no hop. What bounds it is a budget, not a guess:

- per statement (``inline_budget``, default 200 µs): a progress handler checks the clock
  every ``STEPS`` VM steps and aborts the statement past it; the call is then re-run on a
  reader, and so are the next ``BACKOFF`` calls of that statement text, doubling with
  each abort up to ``BACKOFF_LIMIT``. Not barred for good on the first abort: these VMs
  lose the CPU to their host for 2-40 ms at a time, and a pause inside a 5 µs read would
  otherwise end the fast path for it forever; a statement that really is slow costs one
  aborted budget per 65,536 calls (and the readers drop it from their fast set once it
  takes a millisecond there, which ends its inline tries until it is fast again);
- per loop iteration (``ITERATION_BUDGET``): once that much time has passed since the
  first inline call of one iteration of the loop, the next call yields to the loop once
  (timers and I/O run) and tries again, rather than waking a sleeping reader, which
  costs more (tens of µs, more on a loaded machine) than one turn of the loop;
- only while no reader is busy (the caller checks): an inline statement lets go of the
  GIL inside SQLite, and a busy reader that takes it then holds the loop up; under
  concurrency the readers' batched hand-off costs the loop as little;
- no lock is ever waited for on the loop: ``busy_timeout`` is 0 here, and a statement that
  meets a lock (``SQLITE_BUSY``) is re-run on a reader, which may wait.

Unknown statements never run inline first: the readers learn which are fast. What the
budget can't bound is a single VM step: one page read from a cold disk (the page cache
and ``mmap`` make that rare for a table read in the last second).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from enum import Enum
from time import perf_counter
from typing import Any, Final

from loopsafe.engine._connect import connect
from loopsafe.engine._hooks import Hooks
from loopsafe.engine._options import Options
from loopsafe.engine._request import FETCHALL, FETCHONE, FETCHVAL, Op, Params
from loopsafe.engine._translate import translate

STEPS = 1000  # VM steps between clock checks: ~10-50 µs of SQLite work on these machines
# Seconds from an iteration's first inline call after which its inline calls stop. A
# timer's task waits up to two turns of the loop (the turn it fell due in, and the turn
# its wake-up is queued in): 0.3 ms keeps that well under a millisecond.
ITERATION_BUDGET = 0.0003
BACKOFF = 64  # reader runs an aborted statement gets before it is tried inline again...
BACKOFF_LIMIT = 65_536  # ...doubling per abort, up to this: a slow one costs ~nothing
REMEMBERED = 4096  # aborted statement texts remembered (bounded like the readers' set)


class Fallback(Enum):
    """What :meth:`Inline.run` returns when it did not answer the call."""

    FALLBACK = "fallback"  # a reader must run it
    LATER = "later"  # this iteration's inline time is used up: yield once, then try again


FALLBACK: Final = Fallback.FALLBACK
LATER: Final = Fallback.LATER


@dataclass(frozen=True, slots=True)
class InlineStats:
    """What the inline fast path did since the Database opened (see ``Database.inline_stats``).

    ``enabled``: whether the fast path is on (``open(..., inline=True)``, a file, not
    ``:memory:``). ``ran``: calls answered on the loop's thread. ``fell_back``: calls that
    could have run inline but went to a reader because the loop iteration's inline time
    was used up. ``yielded``: calls that found it used up while no reader was busy, and
    so yielded to the loop once before trying again (a sleeping reader costs more to wake
    than a turn of the loop). ``aborted``: statements stopped by ``inline_budget`` and re-run on a
    reader (each such statement text then stays off the fast path). ``busy``: statements
    that met another connection's lock and were re-run on a reader instead of waiting.
    """

    enabled: bool
    ran: int
    fell_back: int
    yielded: int
    aborted: int
    busy: int


class Inline:
    """The loop thread's own read connection and the budgets that bound its use.

    Every method runs on the loop's thread, except that the connection is opened and
    closed in a worker thread (opening touches the disk); between those it is used only
    here, so no other thread ever waits on it or interrupts it.
    """

    __slots__ = (
        "_closed",
        "_fast",
        "_hooks",
        "_hooks_done",
        "_limit",
        "_loop",
        "_options",
        "_refresh",
        "_since",
        "_skip",
        "_strikes",
        "_window",
        "aborted",
        "budget",
        "busy",
        "conn",
        "fell_back",
        "ran",
        "yielded",
    )

    def __init__(
        self, options: Options, loop: asyncio.AbstractEventLoop, fast: set[str], hooks: Hooks
    ) -> None:
        self._options = options
        self._hooks = hooks  # Database.configure() functions: this connection runs them too
        self._hooks_done = 0
        self._refresh: asyncio.Task[None] | None = None
        self._closed = False
        self._loop = loop
        self._fast = fast  # the readers' learned-fast statement texts (shared, read only here)
        self._skip: dict[str, int] = {}  # aborted statement -> reader runs still to go
        self._strikes: dict[str, int] = {}  # aborted statement -> its next backoff
        self.budget = options.inline_budget
        self.conn: sqlite3.Connection | None = None  # None: the fast path is off
        self._limit = 0.0  # perf_counter() value past which the running statement aborts
        self._since = 0.0  # perf_counter() at this iteration's first inline call
        self._window = False  # an iteration's inline calls began: a reset is scheduled
        self.ran = 0
        self.fell_back = 0
        self.yielded = 0
        self.aborted = 0
        self.busy = 0

    async def open(self) -> None:
        """Open the connection (in a worker thread) unless the fast path is off.

        Raises what opening a reader's connection raises (translated)."""
        options = self._options
        if not options.inline or options.memory:
            return
        try:
            self.conn = await asyncio.to_thread(self._connect)
        except BaseException as exc:
            raise translate(exc, None)  # noqa: B904 (translate keeps the cause)

    def _connect(self) -> sqlite3.Connection:
        conn = connect(self._options, writer=False)
        try:
            conn.execute("PRAGMA busy_timeout = 0")  # never wait for a lock on the loop
            conn.set_progress_handler(self._progress, STEPS)
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        """Turn the fast path off and close the connection (in a worker thread)."""
        self._closed = True
        if self._refresh is not None:
            await asyncio.wait([self._refresh])  # its outcome is its own (logged there)
        conn, self.conn = self.conn, None
        if conn is not None:
            await asyncio.to_thread(_close, conn)

    def stats(self) -> InlineStats:
        return InlineStats(
            self._options.inline and not self._options.memory,
            self.ran,
            self.fell_back,
            self.yielded,
            self.aborted,
            self.busy,
        )

    def run(
        self, op: Op, sql: str, params: Params, timeout: float | None, idle: bool = False
    ) -> Any:
        """Answer a read here and now, or return ``FALLBACK`` for a reader to run it, or
        (only when ``idle``: no reader is busy) ``LATER`` when this loop iteration's inline
        time is used up and the caller should yield once and call again.

        Raises what a reader would raise for the same statement (translated).
        """
        if sql not in self._fast:
            return FALLBACK  # unknown, slow on a reader, or not a single-statement read
        if sql in self._skip:
            self._wait_out(sql)
            return FALLBACK
        if self._hooks_done != len(self._hooks.fns):
            self._catch_up()  # configure() added a function: run it off the loop first
            return FALLBACK
        if op is not FETCHONE and op is not FETCHALL and op is not FETCHVAL:
            return FALLBACK
        if timeout is not None and timeout < self.budget:
            return FALLBACK  # the budget could overrun a shorter deadline: a reader obeys it
        started = perf_counter()
        if not self._window:
            self._window = True
            self._since = started
            self._loop.call_soon(self._new_window)
        elif started - self._since >= ITERATION_BUDGET:
            if idle:
                self.yielded += 1
                return LATER
            self.fell_back += 1
            return FALLBACK
        conn = self.conn
        assert conn is not None  # the caller checks it before calling
        self._limit = started + self.budget
        try:
            if op is FETCHALL:
                result = conn.execute(sql, params).fetchall()
            else:
                result = conn.execute(sql, params).fetchone()
                if op is FETCHVAL and result is not None:
                    result = next(iter(result.values())) if isinstance(result, dict) else result[0]
        except sqlite3.OperationalError as exc:
            name = getattr(exc, "sqlite_errorname", "")
            if name == "SQLITE_INTERRUPT" or str(exc) == "interrupted":
                self.aborted += 1
                self._bar(sql)
                return FALLBACK
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                self.busy += 1
                return FALLBACK
            raise translate(exc, sql)  # noqa: B904 (translate keeps the cause)
        except Exception as exc:
            raise translate(exc, sql)  # noqa: B904 (translate keeps the cause)
        self.ran += 1
        return result

    def _catch_up(self) -> None:
        # Runs the new configure() functions in a worker thread (one may touch the disk:
        # ATTACH, a PRAGMA); the fast path is off meanwhile, so nothing else uses the
        # connection, and calls go to the readers, which run the functions themselves.
        conn, self.conn = self.conn, None
        if conn is not None:
            self._refresh = self._loop.create_task(self._run_hooks(conn))

    async def _run_hooks(self, conn: sqlite3.Connection) -> None:
        try:
            self._hooks_done = await asyncio.to_thread(self._hooks.catch_up, conn, self._hooks_done)
        finally:
            self._refresh = None
            if self._closed:
                await asyncio.to_thread(_close, conn)
            else:
                self.conn = conn

    def _bar(self, sql: str) -> None:
        strikes = self._strikes
        if len(strikes) >= REMEMBERED and sql not in strikes:
            strikes.clear()  # SQL built by string formatting must not grow memory
            self._skip.clear()
        backoff = strikes.get(sql, BACKOFF)
        strikes[sql] = min(backoff * 2, BACKOFF_LIMIT)
        self._skip[sql] = backoff

    def _wait_out(self, sql: str) -> None:
        left = self._skip[sql] - 1
        if left > 0:
            self._skip[sql] = left
        else:
            del self._skip[sql]  # tried inline again next time (its strikes are kept)

    def _progress(self) -> int:
        # SQLite calls this every STEPS VM steps of the running statement: non-zero aborts it.
        return perf_counter() > self._limit

    def _new_window(self) -> None:
        # Scheduled with call_soon by the first inline call of an iteration: it runs in the
        # next one, after the loop has polled for I/O and run due timers.
        self._window = False


def _close(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass  # closing at shutdown: nothing useful to report
