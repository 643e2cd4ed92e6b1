"""``loopsafe.Database``: the asyncio face of one SQLite file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterable
from contextvars import ContextVar
from time import monotonic
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

from loopsafe import errors
from loopsafe.engine._channel import Channel
from loopsafe.engine._lane import Lane
from loopsafe.engine._options import Options, Rows
from loopsafe.engine._request import (
    CALL,
    EXECUTE,
    EXECUTEMANY,
    FETCHALL,
    FETCHONE,
    FETCHVAL,
    ITERATE,
    SCRIPT,
    ExecuteResult,
    Params,
    Request,
)
from loopsafe.engine._routing import Kind, classify
from loopsafe.engine._threads import Threads
from loopsafe.engine._transaction import Transaction, TransactionState
from loopsafe.engine._wakeup import Completions

T = TypeVar("T")
LaneChoice = Literal["auto", "read", "write"]
ALONE = "alone"  # marks a statement the writer must run outside any transaction

# The transaction (if any) of the running task, per Database. A child task inherits the
# variable but not the transaction: calls check that the owner is the current task.
_current_txn: ContextVar[TransactionState | None] = ContextVar("loopsafe_txn", default=None)


class Database:
    """One SQLite database served by a writer thread and a pool of reader threads.

    Create it with :func:`loopsafe.open`. A Database belongs to the event loop that opened
    it. Every call takes ``timeout=`` (seconds; the default comes from ``open``) and
    ``wait=`` (when the lane refuses a new call — its queue is full, or the call could not
    start within ``queue_budget`` — ``False`` fails at once with
    :class:`~loopsafe.OverloadedError`; ``True`` queues for a slot up to the timeout, and
    raises :class:`~loopsafe.DeadlineError` if none comes by then).

    Cancellation and deadlines: a call whose task is cancelled, or whose timeout passes,
    stops its statement while it runs (SQLite's progress handler checks every
    ``progress_steps`` VM steps, and the loop interrupts it at once), rolls back what it
    began and leaves its connection clean.
    A timed-out call raises :class:`~loopsafe.DeadlineError`. A write cancelled after its
    statement ran but before its group's COMMIT is committed with the group.
    """

    def __init__(self, options: Options, loop: asyncio.AbstractEventLoop) -> None:
        self.options = options
        self._loop = loop
        budget = options.queue_budget
        self._read = Lane("read", options.read_queue, options.readers, budget)
        self._write = Lane("write", options.write_queue, 1, budget)
        self._completions = Completions(loop, (self._read, self._write))
        self._threads = Threads(options, self._completions, self._read, self._write)
        # A Database dropped without close() still lets its threads finish.
        weakref.finalize(self, self._threads.signal_stop)
        self._closed = False
        self._closing: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        memory_name = f"loopsafe-{uuid.uuid4().hex}"
        try:
            await self._threads.start(self._loop, memory_name)
        except BaseException:
            self._closed = True
            raise

    # -- reading and writing -------------------------------------------------------------

    def fetchone(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,
        wait: bool = False,
        lane: LaneChoice = "auto",
    ) -> Coroutine[Any, Any, Any]:
        """The first row of the result, or ``None``."""
        return self._call(FETCHONE, sql, params, timeout, wait, lane)

    def fetchall(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,
        wait: bool = False,
        lane: LaneChoice = "auto",
    ) -> Coroutine[Any, Any, list[Any]]:
        """All rows of the result (use :meth:`iterate` for large results)."""
        return self._call(FETCHALL, sql, params, timeout, wait, lane)

    def fetchval(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,
        wait: bool = False,
        lane: LaneChoice = "auto",
    ) -> Coroutine[Any, Any, Any]:
        """The first column of the first row, or ``None`` when there is no row."""
        return self._call(FETCHVAL, sql, params, timeout, wait, lane)

    def execute(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,
        wait: bool = False,
        lane: LaneChoice = "auto",
    ) -> Coroutine[Any, Any, ExecuteResult]:
        """Run one statement; returns its ``rowcount`` and ``lastrowid``.

        A write returns after the COMMIT that holds it (group commit: concurrent writes
        share one transaction, each failing alone).
        """
        return self._call(EXECUTE, sql, params, timeout, wait, lane)

    def executemany(
        self,
        sql: str,
        seq_of_params: Iterable[Params],
        *,
        timeout: float | None = None,
        wait: bool = False,
    ) -> Coroutine[Any, Any, ExecuteResult]:
        """Run one statement for each parameter set, atomically (all rows or none)."""
        return self._call(EXECUTEMANY, sql, list(seq_of_params), timeout, wait, "write")

    async def executescript(self, script: str, *, timeout: float | None = None) -> None:
        """Run several statements (schema set-up, migrations) on the writer, outside any
        group transaction. The script may hold its own ``BEGIN`` ... ``COMMIT``; it can't
        run inside ``transaction()`` (SQLite would commit the transaction first)."""
        if self._transaction_of_current_task() is not None:
            raise errors.TransactionError(
                "executescript() can't run inside transaction(); use execute() there", script
            )
        await self._call(SCRIPT, script, None, timeout, True, "write", ALONE)

    @overload
    def read(
        self,
        fn: Callable[[sqlite3.Connection], sqlite3.Cursor],
        *,
        timeout: float | None = None,
        wait: bool = False,
    ) -> Coroutine[Any, Any, Any]: ...

    @overload
    def read(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        timeout: float | None = None,
        wait: bool = False,
    ) -> Coroutine[Any, Any, T]: ...

    def read(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        *,
        timeout: float | None = None,
        wait: bool = False,
    ) -> Coroutine[Any, Any, Any]:
        """Run ``fn(connection)`` on a reader thread: many statements for one hop.

        A cursor returned by ``fn`` is not handed over live (it would hold its statement
        open on the thread): you get its rows, or for a write its ``ExecuteResult``.

        ``fn`` runs in a worker thread: keep Python work in it small (it holds the GIL).
        The connection is ``query_only``; writes in ``fn`` raise :class:`~loopsafe.ReadOnlyError`.
        """
        return self._call(CALL, "", None, timeout, wait, "read", fn)

    @overload
    def write(
        self,
        fn: Callable[[sqlite3.Connection], sqlite3.Cursor],
        *,
        timeout: float | None = None,
        wait: bool = False,
    ) -> Coroutine[Any, Any, Any]: ...

    @overload
    def write(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        timeout: float | None = None,
        wait: bool = False,
    ) -> Coroutine[Any, Any, T]: ...

    def write(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        *,
        timeout: float | None = None,
        wait: bool = False,
    ) -> Coroutine[Any, Any, Any]:
        """Run ``fn(connection)`` on the writer thread inside its own transaction.

        Committed when ``fn`` returns, rolled back when it raises. ``fn`` must not COMMIT or
        ROLLBACK itself (use SAVEPOINTs for partial undo).
        """
        return self._call(CALL, "", None, timeout, wait, "write", fn)

    async def iterate(
        self,
        sql: str,
        params: Params = (),
        *,
        chunk: int = 256,
        timeout: float | None = None,
        wait: bool = False,
    ) -> AsyncIterator[Any]:
        """Stream a large result in chunks of ``chunk`` rows (the next chunk is prefetched).

        The iteration keeps one reader (and its read snapshot) until it ends, is closed
        (``break`` out of ``async for`` closes it), or sits idle past
        ``iterate_idle_timeout``. ``timeout`` bounds each chunk's wait.
        """
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        state = self._transaction_of_current_task()
        if (
            state is not None
            or self.options.memory
            or classify(sql) is not Kind.READ
            or (self._readers_pinned() and not self.options.readonly)
        ):
            for row in await self.fetchall(sql, params, timeout=timeout, wait=wait):
                yield row
            return
        channel = Channel()
        try:
            rows, more = await self._call(
                ITERATE, sql, params, timeout, wait, "read", (chunk, channel)
            )
            while True:
                if more:
                    step = self._request(ITERATE, sql, None, timeout, None, None)
                    channel.send(step)  # prefetch the next chunk while this one is consumed
                for row in rows:
                    yield row
                if not more:
                    return
                rows, more = await self._wait(step, timeout)
        finally:
            channel.queue.put(None)  # release the reader (harmless if it already left)

    def transaction(self, *, timeout: float | None = None, wait: bool = False) -> Transaction:
        """``async with db.transaction():`` — the calling task's calls on ``db`` inside the
        block run in one transaction, committed on exit and rolled back on an exception or
        cancellation. Nested blocks become SAVEPOINTs. Transactions of different tasks never
        interleave: the writer serves one at a time (other writes queue meanwhile), so keep
        blocks short. ``timeout`` limits how long the block may hold the writer (default
        ``transaction_timeout``); past it the transaction is rolled back.

        Other tasks (including tasks started inside the block) don't join the transaction;
        their writes wait until it ends. ``wait`` is as for every call: when the write queue
        is full, fail at once with ``OverloadedError`` or queue for a slot.
        """
        return Transaction(self, _current_txn, timeout, wait)

    # -- lifecycle -----------------------------------------------------------------------

    async def close(self) -> None:
        """Stop taking calls, finish queued work (or fail it after about a second with
        :class:`~loopsafe.ClosedError`), roll back an open transaction and join the threads."""
        if self._closing is None:
            self._closed = True
            self._closing = asyncio.ensure_future(self._threads.stop(self._loop))
        await asyncio.shield(self._closing)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has begun."""
        return self._closed

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def stats(self) -> dict[str, int]:
        """Calls in flight per lane and their limits (cheap; for metrics and health checks)."""
        return {
            "read_inflight": self._read.inflight,
            "read_limit": self._read.limit,
            "write_inflight": self._write.inflight,
            "write_limit": self._write.limit,
        }

    # -- internals -----------------------------------------------------------------------

    async def _call(
        self,
        op: int,
        sql: str,
        params: Any,
        timeout: float | None,
        wait: bool,
        lane: LaneChoice,
        arg: Any = None,
    ) -> Any:
        kind = Kind.WRITE if op in (CALL, SCRIPT) else classify(sql)
        state = self._transaction_of_current_task()
        if state is not None:
            return await state.call(op, sql, params, timeout, arg)
        if self._closed:
            raise errors.ClosedError("the Database is closed")
        if kind is Kind.ALONE:
            arg = ALONE
        target = self._read if op == ITERATE else self._route(kind, lane)
        if timeout is None:
            timeout = self.options.timeout
        if not target.enter(wait):  # Lane.acquire's fast path, without creating a coroutine
            started = self._loop.time()
            await target.acquire(self._loop, wait, None if timeout is None else started + timeout)
            if self._closed:
                target.release()
                raise errors.ClosedError("the Database closed while the call waited for a slot")
            if timeout is not None:  # one deadline for the wait and the call together
                timeout = max(0.0, timeout - (self._loop.time() - started))
        if timeout is None:
            # The hot path, inlined: no deadline, so no timer and no extra coroutine.
            fut = self._loop.create_future()
            req = Request(op, sql, params, fut, None, target, arg)
            target.queue.put(req)
            try:
                return await fut
            except asyncio.CancelledError:
                req.stop()
                raise
        req = self._request(op, sql, params, timeout, target, arg)
        target.queue.put(req)
        return await self._wait(req, timeout)

    def _route(self, kind: Kind, lane: LaneChoice) -> Lane:
        if lane == "auto":
            lane = "read" if kind is Kind.READ else "write"
        elif lane != "read" and lane != "write":
            raise ValueError(f"lane must be 'auto', 'read' or 'write', not {lane!r}")
        if self.options.readonly:
            if lane == "write" and kind is not Kind.ALONE:  # PRAGMA table_info is a read
                raise errors.ReadOnlyError("the Database was opened with readonly=True")
            return self._read
        if lane == "read" and not self.options.memory and not self._readers_pinned():
            return self._read
        return self._write

    def _readers_pinned(self) -> bool:
        # Every reader is streaming an iterate(): a read queued behind them would wait for
        # an iteration to end — forever, if that iteration waits for this read (a query per
        # row inside `async for`). The writer's connection can serve it instead.
        return len(self._threads.iterators) >= self.options.readers

    def _request(
        self, op: int, sql: str, params: Any, timeout: float | None, lane: Lane | None, arg: Any
    ) -> Request:
        deadline = None if timeout is None else monotonic() + timeout
        return Request(op, sql, params, self._loop.create_future(), deadline, lane, arg)

    async def _wait(self, req: Request, timeout: float | None) -> Any:
        """Await a request's result; on cancel or deadline, stop its statement."""
        if timeout is None:
            try:
                return await req.fut
            except asyncio.CancelledError:
                req.stop()
                raise
        timer = self._loop.call_later(timeout, _expire, req)
        try:
            return await req.fut
        except asyncio.CancelledError:
            req.stop()
            raise
        finally:
            timer.cancel()

    def _transaction_of_current_task(self) -> TransactionState | None:
        state = _current_txn.get()
        if state is not None and state.db is self and state.owner is asyncio.current_task():
            return state
        return None


def _expire(req: Request) -> None:
    req.timed_out = True
    req.stop()
    # Not yet claimed by a worker: it will never run (the worker sees it cancelled), so
    # answer now. Claimed: the worker reports what really happened — DeadlineError if the
    # statement was stopped, the result if it had already completed (a write that was
    # waiting for its group's COMMIT commits, and says so).
    if req.worker is None and not req.fut.done():
        req.fut.set_exception(errors.DeadlineError("the call's deadline passed before it ran"))


class _Opener:
    """What :func:`open` returns: ``await`` it, or use it as ``async with``."""

    def __init__(self, options: Options) -> None:
        self._options = options
        self._db: Database | None = None

    async def _open(self) -> Database:
        db = Database(self._options, asyncio.get_running_loop())
        await db._start()
        self._db = db
        return db

    def __await__(self) -> Generator[Any, None, Database]:
        return self._open().__await__()

    async def __aenter__(self) -> Database:
        return await self._open()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._db is not None:
            await self._db.close()


def open(
    path: str | os.PathLike[str],
    *,
    readers: int | None = None,
    readonly: bool = False,
    durability: Literal["normal", "full"] = "normal",
    busy_timeout: float = 5.0,
    timeout: float | None = None,
    read_queue: int = 1024,
    write_queue: int = 1024,
    queue_budget: float | None = 0.05,
    max_batch: int = 256,
    max_batch_wait: float = 0.0,
    transaction_timeout: float = 60.0,
    iterate_idle_timeout: float = 30.0,
    rows: Rows = "tuple",
    mmap_size: int = 256 * 1024 * 1024,
    journal_size_limit: int = 64 * 1024 * 1024,
    progress_steps: int = 1_000_000,
) -> _Opener:
    """Open (creating if needed) the SQLite database at ``path`` (or ``":memory:"``).

    ``db = await loopsafe.open(path)`` or ``async with loopsafe.open(path) as db:``.

    - ``readers``: reader threads, each with its own ``query_only`` connection (default:
      the number of cores, 2 to 4).
    - ``readonly``: no writer; open the file read-only (writes raise ``ReadOnlyError``).
    - ``durability``: ``"normal"`` (``synchronous=NORMAL``: in WAL mode never corrupts, may
      lose the last commits on power loss) or ``"full"`` (every acknowledged write survives
      power loss; group commit makes the fsyncs affordable).
    - ``busy_timeout``: seconds a write waits for another process's write lock.
    - ``timeout``: default deadline of every call, in seconds (``None``: no deadline).
    - ``read_queue`` / ``write_queue``: calls in flight per lane before ``OverloadedError``
      (the memory bound).
    - ``queue_budget``: seconds a new call may expect to wait for a thread (judged from the
      lane's observed service time, its queue and how long it has gone without finishing a
      call) before it is refused with ``OverloadedError``; ``wait=True`` calls are not
      judged by it. ``None``: only the count bound. Default 0.05 s: half of a 100 ms
      response budget, so an accepted call still has room to run and answer.
    - ``max_batch`` / ``max_batch_wait``: most writes per group commit, and how long the
      writer waits for company when only one write is queued (default: not at all).
    - ``transaction_timeout``: longest a ``transaction()`` block may hold the writer.
    - ``iterate_idle_timeout``: how long an ``iterate()`` whose consumer stopped asking for
      rows keeps its reader before it is closed (its next chunk then raises ``DeadlineError``).
    - ``rows``: ``"tuple"`` (default), ``"dict"``, ``"row"`` (``sqlite3.Row``) or a row
      factory ``(cursor, tuple) -> row``.
    - ``mmap_size``, ``journal_size_limit``: bytes, see SQLite's PRAGMAs of those names.
    - ``progress_steps``: VM steps between a running statement's own deadline checks (a
      cancelled or timed-out call is also interrupted at once from the loop).
    """
    options = Options(
        path=os.fspath(path),
        readers=readers or 0,
        readonly=readonly,
        durability=durability,
        busy_timeout=busy_timeout,
        timeout=timeout,
        read_queue=read_queue,
        write_queue=write_queue,
        queue_budget=queue_budget,
        max_batch=max_batch,
        max_batch_wait=max_batch_wait,
        transaction_timeout=transaction_timeout,
        iterate_idle_timeout=iterate_idle_timeout,
        rows=rows,
        mmap_size=mmap_size,
        journal_size_limit=journal_size_limit,
        progress_steps=progress_steps,
    )
    return _Opener(options)
