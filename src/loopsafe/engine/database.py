"""``loopsafe.Database``: the asyncio face of one SQLite file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import weakref
from asyncio import get_running_loop
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterable
from time import monotonic
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

from loopsafe import errors
from loopsafe.engine._calls import Calls
from loopsafe.engine._channel import Channel
from loopsafe.engine._completions import Completions
from loopsafe.engine._handle import TransactionHandle
from loopsafe.engine._inline import FALLBACK, LATER, Inline, InlineStats
from loopsafe.engine._lane import Lane
from loopsafe.engine._options import Options, Rows, Setup
from loopsafe.engine._pool import WorkerPool
from loopsafe.engine._reader import fast_statements
from loopsafe.engine._request import (
    CALL,
    CALL_ALONE,
    CONFIGURE,
    EXECUTE,
    EXECUTEMANY,
    FETCHALL,
    FETCHONE,
    FETCHVAL,
    ITERATE,
    NEXT_CHUNK,
    RESULT,
    SCRIPT,
    ConnectionFn,
    ExecuteResult,
    Op,
    Params,
    Request,
)
from loopsafe.engine._result import Result, RowShape
from loopsafe.engine._routing import ALONE, READ, WRITE, Kind, statement_kind
from loopsafe.engine._stats import Stats
from loopsafe.engine._transaction import Transaction, current_transaction, open_transactions

T = TypeVar("T")
_INFINITY = float("inf")
LaneChoice = Literal["auto", "read", "write"]


class Database:
    """One SQLite database served by a writer thread and a pool of reader threads.

    Create it with :func:`loopsafe.open`. A Database belongs to the event loop that opened
    it: a call from another loop raises :class:`~loopsafe.WrongLoopError` before anything
    is queued.

    Every call takes ``timeout=`` (seconds, finite and not negative; the default comes from
    ``open``) and ``wait=`` (when the lane refuses a new call — its queue is full, or the
    call could not start within ``queue_budget`` — ``False`` raises
    :class:`~loopsafe.OverloadedError` at once; ``True`` queues for a slot up to the
    timeout, and raises :class:`~loopsafe.DeadlineError` if none comes by then). One
    deadline covers the wait for a slot, the wait for a thread and the call.

    **Cancellation and deadlines** (every call; each method adds what is particular to it):

    - A call not yet taken by a thread when its task is cancelled or its deadline passes
      never runs. A cancelled call raises ``CancelledError``; a timed-out one raises
      :class:`~loopsafe.DeadlineError` (also a ``TimeoutError``) at once.
    - A call already running is interrupted from the loop at once (``sqlite3_interrupt``,
      aimed so it can only hit that call's statement); as a backstop the connection's
      progress handler checks deadlines every ``progress_steps`` VM steps. The statement
      stops, what it began is rolled back, its connection is clean for the next call.
    - A call of several statements (``read(fn)``, ``write(fn)``, ``executescript``) is
      also checked between statements (after ``fn`` returns, between a script's
      statements): past its deadline or cancelled, its work is not committed.
    - What a caller is told is what happened: a write whose statement had run when its
      deadline passed (it was waiting for its group's COMMIT) is not undone behind the
      caller's back; the caller gets the result, a moment past the deadline. A cancelled
      caller can't be told anything: if the cancel came after its write ran, the write
      **may commit** with its group.
    - Nothing ever calls back into a closed loop.

    **The fast path** (``inline=True``, the default for files): a ``fetchone``,
    ``fetchall`` or ``fetchval`` of a statement text the readers have already run in
    under a millisecond is answered on the loop's own thread, with no thread hop, on a
    ``query_only`` connection of its own, while no reader thread is busy (a busy reader
    would contend for the GIL that an inline statement lets go of inside SQLite, and so
    hold the loop up; under concurrency the readers' batched hand-off is as cheap).
    Its guarantee: no inline statement holds the loop longer than ``inline_budget``
    (checked inside SQLite every 1,000 VM steps; a single step's disk read is the one
    thing it can't cut short); it never waits for a lock (``busy_timeout`` 0 there); the
    inline calls of one loop iteration stop 0.3 ms after its first (the next call waits
    for the loop's next turn). A statement past its budget is stopped and re-run on a
    reader, and its next 64 calls go to the readers too (doubling with each abort, up to
    65,536); one that meets a lock is re-run on a reader. An inline call has no await
    inside, so **a cancel can't reach it** (it completes; the cancel lands on the task's
    next await) and **its deadline is its budget**: a call whose ``timeout`` is below
    ``inline_budget`` never runs inline. Off the fast path: writes, ``read(fn)``
    (arbitrary Python, unbounded by SQLite's clock), ``iterate()`` (it keeps a cursor
    open across awaits), calls inside :meth:`transaction` (they run on the writer, in
    the block), and ``:memory:`` (no readers learn what is fast).
    See :meth:`inline_stats`.
    """

    def __init__(self, options: Options, loop: asyncio.AbstractEventLoop) -> None:
        self.options = options
        self._calls = Calls(loop, options)
        self._read = self._calls.read
        self._write = self._calls.write
        self._loop = loop
        self._completions = Completions(loop, (self._read, self._write))
        self._pool = WorkerPool(options, self._completions, self._read, self._write)
        self._inline = Inline(options, loop, fast_statements(), self._pool.hooks)
        # A Database dropped without close() still lets its threads finish.
        weakref.finalize(self, self._pool.signal_stop)
        self._closing: asyncio.Task[None] | None = None
        self._streams: set[Channel] = set()  # the iterations holding (or asking for) a reader

    async def _start(self) -> None:
        try:
            await self._pool.start(self._loop)
            await self._inline.open()
        except BaseException:
            self._calls.closed = True
            self._pool.signal_stop()  # cancelled while opening: let the threads finish
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
        """Run one statement and return the first row of its result, or ``None``.

        Routed by what the statement is (a read to a reader, anything else to the
        writer, in a group commit); ``lane="read"`` or ``"write"`` forces either, and a
        statement forced to ``"read"`` never writes, whichever connection serves it.

        Raises: :class:`~loopsafe.SQLError` (and its subclasses) when SQLite rejects the
        statement; ``OverloadedError``, ``DeadlineError``, ``ClosedError``,
        ``WrongLoopError``, ``TransactionError`` (``BEGIN``/``COMMIT``... sent here),
        ``ReadOnlyError``, ``BusyError``, ``DiskFullError``, ``DiskIOError``.
        A cancel or deadline: as for every call (see :class:`Database`).
        """
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
        """Run one statement and return all rows of its result, as a list (use
        :meth:`iterate` for large results).

        Routing, errors, cancel and deadline: as :meth:`fetchone`.
        """
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
        """Run one statement and return the first column of its first row, or ``None``
        when there is no row.

        Routing, errors, cancel and deadline: as :meth:`fetchone`.
        """
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
        """Run one statement and return its :class:`~loopsafe.ExecuteResult`
        (``rowcount``; ``lastrowid`` only when an ``INSERT`` inserted a row).

        A write returns after the COMMIT that holds it: concurrent writes share one
        transaction (group commit), and a failing statement fails only its caller.
        Inside :meth:`transaction` it runs in the block's transaction instead.

        Raises: as :meth:`fetchone`; ``IntegrityError`` when a constraint fails (nothing
        of the statement stays). **Cancellation**: before a thread takes it, it never
        runs. While it runs, it is stopped and rolled back. After it ran and before its
        group's COMMIT, the write **may commit** with the group (the caller is gone and
        can't be told). **Deadline**: as a cancel, except that a write that had already
        run is reported with its result, a moment past the deadline, and commits.
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
        """Run one statement once per parameter set, atomically (all rows or none), on
        the writer; return the total ``rowcount`` (``lastrowid`` is ``None``, as in
        ``sqlite3``).

        ``seq_of_params`` is read at once, on the loop. It runs in its own SAVEPOINT
        inside the group commit: if any parameter set fails, none stays.

        Raises, cancel and deadline: as :meth:`execute` (a stopped ``executemany`` leaves
        none of its rows).
        """
        return self._call(EXECUTEMANY, sql, list(seq_of_params), timeout, wait, "write")

    async def executescript(self, script: str, *, timeout: float | None = None) -> None:
        """Run several statements (schema set-up, migrations) on the writer, outside any
        group transaction; return ``None``.

        The script may hold its own ``BEGIN`` ... ``COMMIT`` (then it is all or nothing);
        without one, each statement commits by itself. A script that leaves a transaction
        open is rolled back and raises ``TransactionError``. It always waits for a slot
        in the write lane.

        Raises: ``TransactionError`` inside :meth:`transaction` (SQLite would commit the
        transaction first); ``SQLError`` for the first statement SQLite rejects (the
        statements before it stay, unless the script's own transaction held them);
        otherwise as :meth:`execute`. **Cancellation and deadline** are checked while each
        statement runs and between statements: the script stops there, its open
        transaction (if any) is rolled back, and statements that already committed stay.
        """
        if current_transaction(self._calls) is not None:
            raise errors.TransactionError(
                "executescript() can't run inside transaction(); use execute() there", script
            )
        await self._call(SCRIPT, script, (), timeout, True, "write")

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
        """Run ``fn(connection)`` on a reader thread and return what it returns: many
        statements for one hop.

        A cursor returned by ``fn`` is not handed over live (it would hold its statement
        open on the thread): you get its rows. ``fn`` runs in a worker thread: keep Python
        work in it small (it holds the GIL). The connection is ``query_only`` wherever
        ``fn`` runs (also when the writer's connection serves it: ``:memory:``, every
        reader streaming, inside :meth:`transaction`). After ``fn``, a transaction it left
        open is rolled back, so the next call never sees a stale snapshot.

        Raises: what ``fn`` raises (``sqlite3`` errors translated: a write raises
        ``ReadOnlyError``); otherwise as :meth:`fetchone`. **Cancellation and deadline**:
        the statement running is stopped; when ``fn`` returns after its caller was
        cancelled or past its deadline, its result is dropped and the call raises
        ``DeadlineError`` (or is cancelled).
        """
        return self._call(CALL, "", (), timeout, wait, "read", fn)

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
        """Run ``fn(connection)`` on the writer thread inside its own transaction and
        return what it returns (a returned cursor comes back as its rows, or its
        ``ExecuteResult``).

        Committed when ``fn`` returns, rolled back when it raises. Inside
        :meth:`transaction` it runs in a SAVEPOINT of the block's transaction. ``fn`` must
        not COMMIT or ROLLBACK itself (use SAVEPOINTs for partial undo): if it does, the
        call raises ``TransactionError`` saying so.

        Raises: what ``fn`` raises (``sqlite3`` errors translated); otherwise as
        :meth:`execute`. **Cancellation and deadline**: the statement running is stopped;
        when ``fn`` returns after its caller was cancelled or past its deadline, its work
        is rolled back, never committed, and the call raises ``DeadlineError`` (or is
        cancelled).
        """
        return self._call(CALL, "", (), timeout, wait, "write", fn)

    async def iterate(
        self,
        sql: str,
        params: Params = (),
        *,
        chunk: int = 256,
        timeout: float | None = None,
        wait: bool = False,
    ) -> AsyncIterator[Any]:
        """Yield the rows of a large result, fetched in chunks of ``chunk`` rows (the next
        chunk is prefetched while you consume one).

        The iteration keeps one reader (and its read snapshot) until it ends, is closed
        (``break`` out of ``async for`` closes it), or sits idle past
        ``iterate_idle_timeout``, after which its next chunk raises ``DeadlineError``. It
        never takes the last reader other calls could use: when the writer can't stand in
        (``readonly=True``) or every reader streams already — and for ``:memory:``, a
        statement that is not a read, or inside :meth:`transaction` — the result is read
        whole (as :meth:`fetchall`) instead.

        Raises: ``ValueError`` for ``chunk`` < 1; otherwise as :meth:`fetchone`.
        **Deadline**: ``timeout`` (or the Database's default) bounds each chunk
        separately, from when it is asked for. **Cancellation** stops the chunk being
        fetched and releases the reader.
        """
        if chunk < 1:
            raise errors.ArgumentError("chunk must be at least 1")
        calls = self._calls
        calls.check_loop()
        timeout = calls.timeout(timeout)  # every chunk gets the default, not just the first
        if (
            current_transaction(calls) is not None
            or self.options.memory
            or statement_kind(sql) is not READ
            or not self._reader_to_spare()
        ):
            for row in await self.fetchall(sql, params, timeout=timeout, wait=wait):
                yield row
            return
        channel = Channel()
        self._streams.add(channel)
        try:
            rows, more = await self._call(
                ITERATE, sql, params, timeout, wait, "read", None, channel, chunk
            )
            while True:
                if more:
                    # Prefetch the next chunk while this one is consumed.
                    step = calls.request(NEXT_CHUNK, timeout, None, sql)
                    channel.send(step)
                for row in rows:
                    yield row
                if not more:
                    return
                rows, more = await calls.wait(step, timeout)
        finally:
            self._streams.discard(channel)
            channel.stop()  # release the reader (harmless if it already left)

    def transaction(self, *, timeout: float | None = None, wait: bool = False) -> Transaction:
        """Return an async context manager: inside ``async with db.transaction():`` the
        calling task's calls on ``db`` run in one transaction on the writer, committed on
        exit and rolled back on an exception or cancellation. Nested blocks become
        SAVEPOINTs (decided each time a block is entered).

        Transactions never interleave: the writer serves one at a time (other writes
        queue meanwhile), so keep blocks short. ``timeout`` (default
        ``transaction_timeout``) limits how long the block may hold the writer, and also
        bounds the wait for it; ``wait`` is as for every call.

        Tasks started inside the block (by ``create_task``, ``gather``, ``wait_for``,
        ``shield``) share its transaction: their calls run in it, in the order they
        arrive, until the block ends; they can't open a ``transaction()`` of their own
        there (``TransactionError``).

        Raises (on entry): ``OverloadedError``, ``DeadlineError`` (no writer within the
        timeout), ``ReadOnlyError``, ``ClosedError``, ``WrongLoopError``,
        ``TransactionError`` (the object is in use). On exit: ``TransactionError`` when
        the transaction could not commit (it was rolled back, or ended early: the message
        says which), ``BusyError``, ``DiskFullError``, ``DiskIOError``.

        **Cancellation**: cancelled inside the block (or while waiting for the writer),
        the transaction is rolled back. Once COMMIT is sent it completes even if the task
        is cancelled meanwhile (the task sees ``CancelledError``). A task garbage-collected
        inside the block rolls it back at once. **Deadline**: ``timeout`` is checked
        between the block's statements: a block past it is rolled back and its next call
        raises ``DeadlineError``; each call inside keeps its own ``timeout=``.
        """
        return Transaction(self._calls, timeout, wait)

    async def query(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,
        wait: bool = False,
        lane: LaneChoice = "auto",
        row_factory: Callable[[sqlite3.Cursor, tuple[Any, ...]], Any] | None = None,
        text_factory: Callable[[bytes], Any] | None = None,
    ) -> Result:
        """Run one statement and return everything about it in one hop: a frozen
        :class:`~loopsafe.Result` (``rows``, ``description``, ``rowcount``, ``lastrowid``),
        for a read as for a write (``INSERT ... RETURNING`` gives its rows and counts).

        Routed as :meth:`fetchone`; a write returns after the COMMIT that holds it, as
        :meth:`execute`. ``row_factory`` / ``text_factory``: as ``sqlite3``'s, for this call
        only (they run on the thread that fetches the rows). Inside :meth:`transaction` it
        runs in the block's transaction.

        Raises, cancel and deadline: as :meth:`execute`.
        """
        calls = self._calls
        calls.check_loop()
        kind = statement_kind(sql)
        readonly = lane == "read"
        shape = None
        if row_factory is not None or text_factory is not None:
            shape = RowShape(row_factory, text_factory or str)
        if open_transactions.get() is not None:
            state = current_transaction(calls)
            if state is not None:
                done: Result = await state.call(RESULT, timeout, sql, params, None, readonly, shape)
                return done
        target = self._route(kind, lane)
        outside = kind is ALONE
        result: Result = await calls.submit(
            target, RESULT, timeout, wait, sql, params, None, readonly, outside, shape
        )
        return result

    async def begin(
        self, *, immediate: bool = False, timeout: float | None = None, wait: bool = False
    ) -> TransactionHandle:
        """Begin a transaction held by the returned :class:`~loopsafe.TransactionHandle`
        (not by the calling task): end it with ``commit()`` or ``rollback()``.

        The handle takes the writer only at its first write, so a read-only handle never
        holds it; reads before the first write run on the readers, each seeing what was
        committed when it ran (see the handle). ``immediate=True`` takes the writer now
        (``BEGIN IMMEDIATE``): every read of the handle then sees one snapshot. ``timeout``:
        the longest the handle may hold the writer (default ``transaction_timeout``); it
        also bounds the wait for the writer when a call has no timeout of its own. ``wait``:
        as for every call, for each of the handle's calls.

        Raises: ``ClosedError``, ``WrongLoopError``, ``ReadOnlyError`` (``immediate`` on a
        ``readonly`` Database), ``ArgumentError``; with ``immediate``, what
        :meth:`TransactionHandle.take_writer` raises. **Cancellation** (``immediate``) while
        waiting for the writer: nothing is held.
        """
        calls = self._calls
        calls.check()
        if immediate and self.options.readonly:
            raise errors.ReadOnlyError("the Database was opened with readonly=True")
        handle = TransactionHandle(calls, self._read_lane, timeout, wait)
        if immediate:
            await handle.take_writer()
        return handle

    async def configure(self, fn: Callable[[sqlite3.Connection], object]) -> None:
        """Run ``fn(connection)`` on every connection of the Database (user functions,
        ``set_authorizer``, PRAGMAs): on the writer now, outside any transaction, and on
        each reader before its next call. Returns once the writer ran it.

        Connection-level settings are shared by every user of this Database (they are
        settings of its connections). Prefer ``open(setup=...)`` for what every connection
        needs from the start.

        Raises what ``fn`` raised on the writer (``sqlite3`` errors translated; the readers
        then never run it); ``ClosedError``, ``WrongLoopError``. A reader on which ``fn``
        fails logs it (``loopsafe.engine``). **Cancellation**: before the writer took it,
        it never runs anywhere; after, it runs everywhere.
        """
        calls = self._calls
        calls.check()
        if not callable(fn):
            raise errors.ArgumentError(f"configure() needs a callable, not {fn!r}")
        if self.options.readonly:
            self._pool.hooks.fns.append(fn)  # no writer to try it first: the readers run it
            return
        await calls.submit(calls.write, CONFIGURE, None, True, "", (), fn, False, True)

    async def backup(
        self,
        target: Database | sqlite3.Connection,
        *,
        pages: int = -1,
        progress: Callable[[int, int, int], object] | None = None,
        name: str = "main",
        sleep: float = 0.25,
    ) -> None:
        """Copy this database (its committed state) over ``target``: another Database,
        or a ``sqlite3.Connection`` the caller owns. Arguments as ``sqlite3``'s ``backup``.

        Into a ``sqlite3.Connection``: runs on a reader, ``sqlite3.Connection.backup``
        page by page (the caller must not use ``target`` until this returns). Into a
        Database: a snapshot is read here in one hop, then written over ``target`` on its
        writer, outside any transaction (its other writes queue meanwhile).

        Raises ``sqlite3``'s errors translated (``SQLError``, ``BusyError``, ...);
        ``ClosedError``, ``WrongLoopError``. **Cancellation**: a copy into a Database that
        its writer began completes.
        """

        def into(conn: sqlite3.Connection, dest: sqlite3.Connection) -> None:
            conn.backup(dest, pages=pages, progress=progress, name=name, sleep=sleep)

        if isinstance(target, sqlite3.Connection):
            await self.read(lambda conn: into(conn, target), wait=True)
            return
        data: bytes = await self.read(lambda conn: conn.serialize(name=name), wait=True)

        if len(data) >= 20 and data[18] == 2:
            # A WAL file's header: an in-memory copy must read it as a rollback-journal one.
            data = data[:18] + b"\x01\x01" + data[20:]

        def restore(conn: sqlite3.Connection) -> None:
            snapshot = sqlite3.connect(":memory:")
            try:
                snapshot.deserialize(data)
                snapshot.backup(conn, pages=pages, progress=progress, sleep=sleep)
            finally:
                snapshot.close()

        calls = target._calls
        await calls.submit(calls.write, CALL_ALONE, None, True, "", (), restore, False, True)

    # -- lifecycle -----------------------------------------------------------------------

    async def close(self) -> None:
        """Stop taking calls, finish queued work, join the threads; return when done.

        New calls raise ``ClosedError`` from the moment ``close`` begins. Queued work gets
        about a second to finish; after that it fails with ``ClosedError``, running
        statements are interrupted and an open transaction is rolled back. Calling it
        again waits for the same close. **Cancellation**: cancelling the caller doesn't
        stop the close, which carries on in the background.

        Raises: ``WrongLoopError`` from another event loop.
        """
        self._calls.check_loop()
        if self._closing is None:
            self._calls.closed = True
            self._closing = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._closing)

    def terminate(self) -> None:
        """Close at once, without waiting (synchronous: for a pool's hard close, garbage
        collection, a loop that is gone).

        Queued calls fail with ``ClosedError``, running statements are interrupted, an open
        transaction is rolled back; the threads close their connections and exit by
        themselves, in the background. Called from another thread (or after the loop
        closed), the loop's side of it runs on the loop when the loop gets to it. Never
        raises. A later :meth:`close` waits for the threads.
        """
        self._calls.closed = True
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._pool.terminate()
            return
        self._pool.signal_stop()  # thread-safe: the threads roll back and finish by themselves
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._pool.terminate)
            except RuntimeError:
                pass  # the loop closed meanwhile: nobody is awaiting anything on it

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop that opened the Database (the only one it answers on)."""
        return self._loop

    async def _stop(self) -> None:
        await self._inline.close()  # before the writer, whose close checkpoints the WAL
        await self._pool.stop(self._loop)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has begun."""
        return self._calls.closed

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def stats(self) -> Stats:
        """Return a :class:`~loopsafe.Stats` snapshot: calls in flight per lane and the
        lanes' limits. Cheap, never blocks, never raises; for metrics and health checks."""
        read, write = self._read, self._write
        return Stats(read.inflight, read.limit, write.inflight, write.limit)

    def inline_stats(self) -> InlineStats:
        """Return an :class:`~loopsafe.InlineStats` snapshot of the inline fast path (calls
        answered on the loop's thread, handed to readers, stopped by the budget). Cheap,
        never blocks, never raises."""
        return self._inline.stats()

    # -- internals -----------------------------------------------------------------------

    async def _call(
        self,
        op: Op,
        sql: str,
        params: Any,
        timeout: float | None,
        wait: bool,
        lane: LaneChoice,
        fn: ConnectionFn | None = None,
        channel: Channel | None = None,
        chunk: int = 0,
    ) -> Any:
        # Every call passes here: kept inline and positional, the loop thread's cost per
        # call is what bounds the throughput of point reads.
        loop = self._loop
        if get_running_loop() is not loop:
            self._calls.check_loop()  # raises WrongLoopError
        kind = WRITE if op is CALL or op is SCRIPT else statement_kind(sql)
        # Forced to the read lane: it must not write, whichever connection serves it.
        readonly = lane == "read" and op is not ITERATE
        if open_transactions.get() is not None:
            state = current_transaction(self._calls)
            if state is not None:
                return await state.call(op, timeout, sql, params, fn, readonly)
        if self._calls.closed:
            raise errors.ClosedError("the Database is closed")
        outside = kind is ALONE or op is SCRIPT
        target = self._read if op is ITERATE else self._route(kind, lane)
        if timeout is None:
            timeout = self.options.timeout
        elif type(timeout) is not float or not 0.0 <= timeout < _INFINITY:
            timeout = self._calls.timeout(timeout)  # validates, or raises ArgumentError
        if target is self._read and not target.inflight and self._inline.conn is not None:
            # On the loop, on purpose: each statement bounded by inline_budget (see _inline).
            # Only while no reader is busy: an inline statement lets go of the GIL inside
            # SQLite, and a busy reader that takes it then holds the loop up.
            inline = self._inline
            result = inline.run(op, sql, params, timeout, True)  # noqa: LS102
            if result is LATER:
                await asyncio.sleep(0)  # this loop turn's inline time is spent: the next one
                if not target.inflight:
                    result = inline.run(op, sql, params, timeout, False)  # noqa: LS102
            if result is not FALLBACK and result is not LATER:
                return result
        if not target.enter(wait):  # Lane.acquire's fast path, without creating a coroutine
            started = loop.time()
            # Raises OverloadedError (refused), DeadlineError (no slot before the deadline).
            await target.acquire(loop, wait, None if timeout is None else started + timeout)
            if self._calls.closed:
                target.release()
                raise errors.ClosedError("the Database closed while the call waited for a slot")
            if timeout is not None:  # one deadline for the wait and the call together
                timeout = max(0.0, timeout - (loop.time() - started))
        if timeout is None:
            # The hot path, inlined: no deadline, so no timer and no extra coroutine.
            fut = loop.create_future()
            req = Request(op, fut, None, target, sql, params, fn, readonly, outside, channel, chunk)
            target.queue.put(req)
            try:
                return await fut
            except asyncio.CancelledError:
                req.stop()
                raise
        req = Request(
            op,
            loop.create_future(),
            monotonic() + timeout,
            target,
            sql,
            params,
            fn,
            readonly,
            outside,
            channel,
            chunk,
        )
        target.queue.put(req)
        return await self._calls.wait(req, timeout)

    def _route(self, kind: Kind, lane: LaneChoice) -> Lane:
        if lane == "auto":
            lane = "read" if kind is READ else "write"
        elif lane != "read" and lane != "write":
            raise errors.ArgumentError(f"lane must be 'auto', 'read' or 'write', not {lane!r}")
        if self.options.readonly:
            if lane == "write" and kind is not ALONE:  # PRAGMA table_info is a read
                raise errors.ReadOnlyError("the Database was opened with readonly=True")
            return self._read
        if lane == "read" and not self.options.memory and not self._readers_pinned():
            return self._read
        return self._write

    def _read_lane(self) -> Lane:
        # Where a read of a TransactionHandle goes now (it holds nothing yet).
        return self._route(READ, "read")

    def _readers_pinned(self) -> bool:
        # Every reader is streaming an iterate(): a read queued behind them would wait for
        # an iteration to end — forever, if that iteration waits for this read (a query per
        # row inside `async for`). The writer's connection can serve it instead.
        return len(self._pool.iterators) >= self.options.readers

    def _reader_to_spare(self) -> bool:
        # May a new iteration take a reader? With a writer to stand in, while one is free.
        # Without one (readonly), the last reader is kept for other reads, or the same
        # query-per-row deadlock follows; iterations asked for but not yet started count
        # too, since two could otherwise take the last two readers at once. A reader lets
        # go of its iteration by closing its channel.
        if not self.options.readonly:
            return not self._readers_pinned()
        streaming = sum(1 for channel in self._streams if channel.dead is None)
        return streaming + 1 < self.options.readers


class _Opener:
    """What :func:`open` returns: ``await`` it, or use it as ``async with``."""

    def __init__(self, options: Options) -> None:
        self._options = options
        self._db: Database | None = None

    @property
    def options(self) -> Options:
        """The validated options the Database will be opened with."""
        return self._options

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
    setup: Setup | None = None,
    inline: bool = True,
    inline_budget: float = 0.0002,
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
    - ``setup``: ``fn(sqlite3.Connection)``, run on every connection the Database opens
      (the writer and each reader, on its own thread, after loopsafe's PRAGMAs; readers
      are ``query_only``): user functions, PRAGMAs, ``ATTACH``.
    - ``inline`` / ``inline_budget``: the fast path (see :class:`Database`): reads the
      readers have learned are fast run on the loop's own thread, each stopped past
      ``inline_budget`` seconds (default 200 µs) and moved to a reader. ``inline=False``
      sends every call through the threads.

    Durations are seconds, finite and not negative (``transaction_timeout``,
    ``iterate_idle_timeout`` and ``timeout`` more than zero).

    Returns an opener: awaiting it (or entering it) returns the open :class:`Database`.
    Raises: ``ArgumentError`` at once for an option it can't use; when awaited,
    ``CannotOpenError`` (missing directory, permissions), ``CorruptError`` (not a SQLite
    file), ``SetupError`` (``setup`` raised: no thread is left running), ``ReadOnlyError``,
    ``BusyError`` (another process holds the file's lock past
    ``busy_timeout`` while WAL is turned on). **Cancellation** while opening tells the
    threads started so far to stop (they close their connections and exit by themselves).
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
        setup=setup,
        inline=inline,
        inline_budget=inline_budget,
    )
    return _Opener(options)
