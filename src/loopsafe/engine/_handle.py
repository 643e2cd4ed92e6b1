"""``txn = await db.begin()``: a transaction held by an object, not by a task.

An ORM session or a DB-API connection is a long-lived object that many tasks may drive in
turn, and that may sit idle between statements; tying its transaction to the task that
began it (as ``db.transaction()`` does) would not fit. A handle instead carries its own
channel to the writer.

The rule that keeps read-only work off the single writer: a handle takes the writer only
at its first write. Until then it holds nothing: each read runs on a reader by itself, in
its own read transaction, and sees what was committed when it ran (read committed, not
one snapshot). The first write sends ``BEGIN IMMEDIATE`` and the statement together (one
hop); from then on every call of the handle runs on the writer inside that transaction
and sees the transaction's own writes, and nothing another connection commits after the
``BEGIN``. A handle that must read from one snapshot before it writes calls
:meth:`TransactionHandle.take_writer` first (or is begun with ``immediate=True``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from loopsafe import errors
from loopsafe.engine._calls import Calls, consume
from loopsafe.engine._channel import Channel
from loopsafe.engine._lane import Lane
from loopsafe.engine._request import (
    CALL,
    COMMIT,
    CONFIGURE,
    EXECUTE,
    EXECUTEMANY,
    FETCHALL,
    FETCHONE,
    RESULT,
    ROLLBACK,
    TRANSACTION,
    ConnectionFn,
    ExecuteResult,
    Op,
    Params,
    Request,
)
from loopsafe.engine._result import Result, RowShape
from loopsafe.engine._routing import ALONE, READ, Kind, statement_kind


class HandleState(Enum):
    IDLE = "idle"  # holds nothing: reads go to the readers
    WRITING = "writing"  # holds the writer, inside BEGIN IMMEDIATE
    ENDED = "ended"  # committed, rolled back or aborted: takes no more calls


IDLE = HandleState.IDLE
WRITING = HandleState.WRITING
ENDED = HandleState.ENDED


def quote_name(name: str) -> str:
    """A savepoint name as a quoted SQL identifier; ``ArgumentError`` if it can't be one."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise errors.ArgumentError(f"a savepoint name must be a non-empty str, not {name!r}")
    return '"' + name.replace('"', '""') + '"'


class TransactionHandle:
    """One transaction, held by this object until :meth:`commit`, :meth:`rollback` or
    :meth:`abort`. Create it with :meth:`Database.begin`.

    Any task may use the handle, one call after another (calls made concurrently run in
    the order they were made). Until its first write the handle holds nothing: its reads
    run on the readers, each by itself, and see what was committed when they ran; a
    handle dropped then costs nothing. Its first write (``INSERT``, ``UPDATE``,
    ``DELETE``, DDL, ``executemany``) takes the writer with ``BEGIN IMMEDIATE``, sent
    together with the statement; from then on every call runs on the writer inside that
    transaction, and the other writers of the Database queue until it ends.

    Raises, for every call: ``TransactionError`` once the handle has ended (the message
    says how), and for ``BEGIN``/``COMMIT``/``SAVEPOINT``... sent as SQL (use the methods);
    otherwise what the same call on :class:`Database` raises.

    **Cancellation and deadlines.** Before the first write a call is an ordinary call (see
    :class:`Database`). Cancelled or timed out while it waits for the writer, the first
    write leaves the handle as it was: holding nothing, usable again. After that, a call
    that is cancelled or passes its deadline stops its statement and **rolls back the whole
    transaction** (SQLite may already have rolled it back; loopsafe makes it certain): the
    handle ends, later calls raise ``TransactionError``, :meth:`rollback` still succeeds.
    The handle may hold the writer for at most its ``timeout`` (``begin(timeout=...)``,
    default ``transaction_timeout``); past it the writer rolls it back and the next call
    raises ``DeadlineError``. A handle garbage-collected while it holds the writer is
    rolled back at once; it never keeps the writer.
    """

    __slots__ = (
        "__weakref__",
        "_calls",
        "_channel",
        "_ended_why",
        "_finalizer",
        "_inflight",
        "_pending",
        "_route_read",
        "_state",
        "_timeout",
        "_wait",
    )

    def __init__(
        self,
        calls: Calls,
        route_read: Callable[[], Lane],
        timeout: float | None,
        wait: bool,
    ) -> None:
        self._calls = calls
        self._route_read = route_read  # the lane a read takes now (a reader, or the writer)
        self._timeout = None if timeout is None else calls.timeout(timeout)
        self._wait = wait
        self._state = IDLE
        self._channel = Channel(self._timeout)
        self._pending: list[str] = []  # savepoints named before the first write
        self._inflight: set[Request] = set()  # calls sent to the writer, not yet answered
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._ended_why = ""

    # -- state -----------------------------------------------------------------------------

    @property
    def writing(self) -> bool:
        """True while the handle holds the writer (after its first write, until it ends)."""
        return self._state is WRITING

    @property
    def ended(self) -> bool:
        """True once the handle committed, rolled back or was aborted."""
        return self._state is ENDED

    # -- statements ------------------------------------------------------------------------

    async def execute(
        self, sql: str, params: Params = (), *, timeout: float | None = None
    ) -> ExecuteResult:
        """Run one statement in the transaction; return its ``ExecuteResult``.

        A read before the first write runs on a reader; anything else takes the writer
        (see the class). Raises, cancel and deadline: see the class.
        """
        result: ExecuteResult = await self._call(EXECUTE, sql, params, timeout)
        return result

    async def executemany(
        self, sql: str, seq_of_params: Iterable[Params], *, timeout: float | None = None
    ) -> ExecuteResult:
        """Run one statement per parameter set (read at once, on the loop), all or none,
        on the writer in the transaction; return the total ``rowcount``."""
        result: ExecuteResult = await self._call(
            EXECUTEMANY, sql, list(seq_of_params), timeout, write=True
        )
        return result

    async def query(
        self,
        sql: str,
        params: Params = (),
        *,
        timeout: float | None = None,
        row_factory: Callable[[Any, tuple[Any, ...]], Any] | None = None,
        text_factory: Callable[[bytes], Any] | None = None,
    ) -> Result:
        """Run one statement in the transaction; return its rows, description, rowcount and
        lastrowid in one :class:`~loopsafe.Result` (one hop, also for ``... RETURNING``).

        ``row_factory`` / ``text_factory``: as ``sqlite3``'s, for this call only (run on
        the thread that fetches the rows). Raises, cancel and deadline: see the class.
        """
        shape = None
        if row_factory is not None or text_factory is not None:
            shape = RowShape(row_factory, text_factory or str)
        result: Result = await self._call(RESULT, sql, params, timeout, shape=shape)
        return result

    async def fetchone(self, sql: str, params: Params = (), *, timeout: float | None = None) -> Any:
        """The first row of the statement's result, or ``None``. See :meth:`execute`."""
        return await self._call(FETCHONE, sql, params, timeout)

    async def fetchall(
        self, sql: str, params: Params = (), *, timeout: float | None = None
    ) -> list[Any]:
        """All rows of the statement's result. See :meth:`execute`."""
        rows: list[Any] = await self._call(FETCHALL, sql, params, timeout)
        return rows

    async def read(self, fn: ConnectionFn, *, timeout: float | None = None) -> Any:
        """Run ``fn(connection)`` (``query_only``) where the transaction's reads run: on a
        reader before the first write, in the transaction on the writer after it; return
        what it returns (a returned cursor as its rows). As :meth:`Database.read`."""
        return await self._call(CALL, "", (), timeout, fn=fn, readonly=True)

    async def configure(self, fn: ConnectionFn) -> None:
        """As :meth:`Database.configure`; while the handle holds the writer, ``fn`` runs
        there, inside the transaction (queued behind it on the Database, it would wait
        for this very handle to end)."""
        if self._state is not WRITING:
            await self._calls.submit(
                self._calls.write, CONFIGURE, None, True, "", (), fn, False, True
            )
            return
        req = self._calls.request(CONFIGURE, None, None, "", (), fn)
        await self._on_writer(req, None)

    # -- savepoints ------------------------------------------------------------------------

    async def savepoint(self, name: str) -> None:
        """``SAVEPOINT name``. Before the first write it is only remembered (no hop): the
        writer receives it with the first write. Raises ``ArgumentError`` for a name that
        is not a non-empty str."""
        sql = "SAVEPOINT " + quote_name(name)
        if self._state is IDLE:
            self._pending.append(name)
            return
        await self._control(sql)

    async def release(self, name: str) -> None:
        """``RELEASE name``: keep what was done since the savepoint, drop the savepoint
        (and those after it). Raises ``SQLError`` (``TransactionError`` before the first
        write) when there is no such savepoint."""
        sql = "RELEASE " + quote_name(name)
        if self._state is IDLE:
            del self._pending[self._pending_index(name) :]
            return
        await self._control(sql)

    async def rollback_to(self, name: str) -> None:
        """``ROLLBACK TO name``: undo what was done since the savepoint, which stays open.
        Before the first write there is nothing to undo. Raises as :meth:`release`."""
        sql = "ROLLBACK TO " + quote_name(name)
        if self._state is IDLE:
            del self._pending[self._pending_index(name) + 1 :]
            return
        await self._control(sql)

    def _pending_index(self, name: str) -> int:
        self._check_open()
        wanted = name.lower()  # SQLite compares savepoint names without case
        for index in range(len(self._pending) - 1, -1, -1):
            if self._pending[index].lower() == wanted:
                return index
        raise errors.TransactionError(f"no such savepoint: {name}")

    async def _control(self, sql: str) -> None:
        # Savepoint statements go to the writer as they are: the loop-side statement check
        # refuses them only for callers that are not a handle.
        self._check_open()
        req = self._calls.request(EXECUTE, None, None, sql)
        await self._on_writer(req, None)

    # -- the writer ------------------------------------------------------------------------

    async def take_writer(self, *, timeout: float | None = None) -> None:
        """Take the writer now (``BEGIN IMMEDIATE``), so that every later read sees one
        snapshot: the transaction's. Does nothing if the handle holds it already.

        ``timeout`` bounds the wait for the writer (default: the handle's ``timeout``, else
        ``transaction_timeout``). Raises ``OverloadedError``, ``DeadlineError``,
        ``BusyError``, ``ClosedError``, ``TransactionError`` (ended). **Cancellation** or
        a deadline while waiting leaves the handle holding nothing.
        """
        self._check_open()
        if self._state is WRITING:
            return
        await self._first_write(None, timeout)

    async def commit(self) -> None:
        """Commit and end the handle. Before the first write there is nothing to commit:
        it ends without a hop.

        Raises ``TransactionError`` when the transaction could not commit (it was rolled
        back: the message says why) or the handle had already ended; ``BusyError``,
        ``DiskFullError``, ``DiskIOError``. **Cancellation**: once COMMIT is sent it
        completes even if the caller is cancelled meanwhile (the caller sees
        ``CancelledError``).
        """
        self._check_open()
        state = self._state
        self._end("it was committed")
        if state is IDLE:
            return
        end = self._calls.request(COMMIT, None)
        end.fut.add_done_callback(consume)  # answered after we were cancelled: not an error
        try:
            self._channel.send(end)
        except errors.Error as exc:
            raise errors.TransactionError(f"the transaction could not commit: {exc}") from exc
        await asyncio.shield(end.fut)

    async def rollback(self) -> None:
        """Roll back and end the handle; return when the writer is free. Never fails for a
        transaction that is already gone (ended, timed out, closed): rolling back is what
        a caller does after an error. **Cancellation**: the rollback still happens."""
        state = self._state
        if state is ENDED:
            return
        self._end("it was rolled back")
        if state is IDLE:
            return
        end = self._calls.request(ROLLBACK, None)
        end.fut.add_done_callback(consume)
        try:
            self._channel.send(end)
        except errors.Error:
            return  # the writer already let go of it
        try:
            await asyncio.shield(end.fut)
        except errors.Error:
            pass

    def abort(self) -> None:
        """Roll back without waiting (synchronous; any thread: for garbage collection, a
        pool's hard close). Statements of the handle still running are stopped; the writer
        rolls the transaction back as soon as it reads the signal. Never raises."""
        state = self._state
        if state is ENDED:
            return
        self._end("it was aborted")
        if state is WRITING:
            for req in list(self._inflight):
                req.stop()
            self._channel.stop()

    # -- internals -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state is ENDED:
            raise errors.TransactionError(f"the transaction has ended: {self._ended_why}")

    def _end(self, why: str) -> None:
        self._state = ENDED
        self._ended_why = why
        self._pending.clear()
        if self._finalizer is not None:
            self._finalizer.detach()  # the writer ends the transaction by itself now
            self._finalizer = None

    async def _call(
        self,
        op: Op,
        sql: str,
        params: Any,
        timeout: float | None,
        *,
        fn: ConnectionFn | None = None,
        readonly: bool = False,
        write: bool = False,
        shape: RowShape | None = None,
    ) -> Any:
        self._check_open()
        calls = self._calls
        timeout = calls.timeout(timeout)
        kind: Kind | None = None if op is CALL else statement_kind(sql)
        if self._state is WRITING:
            req = calls.request(op, timeout, None, sql, params, fn, readonly, shape=shape)
            return await self._on_writer(req, timeout)
        if not write and (kind is READ or readonly):
            lane = self._route_read()
            return await calls.submit(
                lane, op, timeout, self._wait, sql, params, fn, True, False, shape
            )
        if kind is ALONE:
            # PRAGMA, VACUUM, ATTACH: no transaction of their own, as on the Database.
            return await calls.submit(
                calls.write, op, timeout, self._wait, sql, params, fn, False, True, shape
            )
        req = calls.request(op, timeout, None, sql, params, fn, readonly, shape=shape)
        return await self._first_write(req, timeout)

    async def _first_write(self, req: Request | None, timeout: float | None) -> Any:
        """Take the writer (BEGIN IMMEDIATE) and run ``req`` right after it: one hop."""
        calls = self._calls
        loop = calls.loop
        channel = self._channel
        # From here on, concurrent calls of this handle queue on the channel behind `req`.
        self._state = WRITING
        self._finalizer = weakref.finalize(self, channel.stop)
        for name in self._pending:
            savepoint = calls.request(EXECUTE, None, None, "SAVEPOINT " + quote_name(name))
            savepoint.fut.add_done_callback(consume)  # its failure fails the statement after it
            channel.send(savepoint)
        self._pending.clear()
        if req is not None:
            channel.send(req)
            self._inflight.add(req)
        limit = timeout
        if limit is None:
            limit = self._timeout
        if limit is None:
            limit = calls.options.transaction_timeout
        lane = calls.write
        begin: Request | None = None
        try:
            calls.check()
            started = loop.time()
            await lane.acquire(loop, self._wait, started + limit)
            if calls.closed:
                lane.release()
                raise errors.ClosedError("the Database closed while the handle waited")
            limit = max(0.0, limit - (loop.time() - started))
            begin = calls.request(TRANSACTION, limit, lane, channel=channel)
            lane.queue.put(begin)
            await calls.wait(begin, limit)
        except BaseException as exc:
            self._lost_writer(exc, queued=begin is not None)
            if req is not None:
                self._inflight.discard(req)
                req.fut.add_done_callback(consume)
            raise
        if req is None:
            return None
        return await self._answer(req, timeout, channel)

    def _lost_writer(self, exc: BaseException, *, queued: bool) -> None:
        # The writer was not taken: back to holding nothing, with a fresh channel. Calls
        # already queued on the old one fail with the same reason (the writer fails them
        # when it gets to the cancelled BEGIN; if BEGIN was never queued, we do it here).
        old = self._channel
        if queued:
            old.stop()  # BEGIN may still happen: this ends it at once
        else:
            why = exc if isinstance(exc, errors.Error) else errors.AbortedError(str(exc))
            old.close(why, _fail_now)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._state is WRITING:
            self._state = IDLE
            self._channel = Channel(self._timeout)

    async def _on_writer(self, req: Request, timeout: float | None) -> Any:
        try:
            self._channel.send(req)
        except errors.Error as exc:
            # The writer let go of the transaction (its time limit, close, a lost BEGIN).
            self._end(f"the writer ended it: {exc}")
            raise
        self._inflight.add(req)
        return await self._answer(req, timeout, self._channel)

    async def _answer(self, req: Request, timeout: float | None, channel: Channel) -> Any:
        try:
            return await self._calls.wait(req, timeout)
        except (asyncio.CancelledError, errors.DeadlineError, errors.AbortedError):
            # The statement was stopped mid-transaction: roll the whole transaction back, so
            # what stays is never a guess. (A call queued behind a first write that failed
            # to take the writer fails too, but the handle holds nothing: it stays usable.)
            if channel is self._channel and self._state is WRITING:
                self.abort()
            raise
        finally:
            self._inflight.discard(req)


def _fail_now(req: Request) -> None:
    # Channel.close's `post`, called on the loop thread: answer at once.
    if not req.fut.done() and req.error is not None:
        req.fut.set_exception(req.error)
        req.fut.exception()  # mark retrieved: the caller may be gone
