"""``async with db.transaction():`` — one task's calls in one transaction on the writer."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from loopsafe import errors
from loopsafe.engine._calls import Calls, consume
from loopsafe.engine._channel import Channel
from loopsafe.engine._request import ConnectionFn, Op
from loopsafe.engine._result import RowShape


class TransactionState:
    """An open transaction: its Database's calls, the task that opened it, its channel.

    ``outer`` is the transaction (of another Database) that was current when this one
    began, so a task may hold transactions on several Databases at once. ``ended`` is set
    on the loop thread as soon as COMMIT or ROLLBACK is sent: from then on the state is
    ignored, wherever a context still holds it.
    """

    __slots__ = ("calls", "channel", "ended", "outer", "owner")

    def __init__(
        self,
        calls: Calls,
        owner: asyncio.Task[Any] | None,
        channel: Channel,
        outer: TransactionState | None,
    ) -> None:
        self.calls = calls
        self.owner = owner
        self.channel = channel
        self.outer = outer
        self.ended = False

    async def call(
        self,
        op: Op,
        timeout: float | None,
        sql: str = "",
        params: Any = (),
        fn: ConnectionFn | None = None,
        readonly: bool = False,
        shape: RowShape | None = None,
    ) -> Any:
        """Run one call on the writer inside this transaction (no queue admission: the
        transaction already holds the writer)."""
        calls = self.calls
        timeout = calls.timeout(timeout)
        req = calls.request(op, timeout, None, sql, params, fn, readonly, shape=shape)
        self.channel.send(req)
        return await calls.wait(req, timeout)


# The open transactions of the running context, innermost first. Tasks started inside a
# block (directly, or by gather / wait_for / shield) inherit it and so join the block.
open_transactions: ContextVar[TransactionState | None] = ContextVar(
    "loopsafe_transaction", default=None
)
_current = open_transactions


def current_transaction(calls: Calls) -> TransactionState | None:
    """The open transaction on ``calls``' Database that the running context is inside."""
    state = _current.get()
    while state is not None:
        if state.calls is calls and not state.ended:
            return state
        state = state.outer
    return None


def _live(state: TransactionState | None) -> TransactionState | None:
    # Drop ended transactions from the chain, so a task running many blocks in turn
    # doesn't grow it.
    while state is not None and state.ended:
        state = state.outer
    return state


class Transaction:
    """The async context manager returned by ``Database.transaction()``.

    Whether a block is the transaction itself or a SAVEPOINT inside one is decided each
    time it is entered, so one object may be used again, nested or not.
    """

    def __init__(self, calls: Calls, timeout: float | None, wait: bool = False) -> None:
        self._calls = calls
        self._wait = wait
        # Validated now; None stays None: the block's limit is then transaction_timeout.
        self._timeout = None if timeout is None else calls.timeout(timeout)
        self._state: TransactionState | None = None
        self._nested = False

    async def __aenter__(self) -> None:
        if self._state is not None:
            raise errors.TransactionError("this transaction() block is already in use")
        calls = self._calls
        calls.check()
        state = current_transaction(calls)
        if state is not None:
            if state.owner is not asyncio.current_task():
                raise errors.TransactionError(
                    "a task started inside transaction() shares the block's transaction and "
                    "can't open a transaction() of its own there; await it in the block's task"
                )
            await state.call(Op.SAVEPOINT, None)
            self._nested = True
            self._state = state
            return
        self._nested = False
        if calls.options.readonly:
            raise errors.ReadOnlyError("the Database was opened with readonly=True")
        await self._begin()

    async def _begin(self) -> None:
        calls = self._calls
        channel = Channel(self._timeout)
        state = TransactionState(calls, asyncio.current_task(), channel, _live(_current.get()))
        lane = calls.write
        loop = calls.loop
        # The block's timeout also bounds the wait for the writer.
        limit = self._timeout if self._timeout is not None else calls.options.timeout
        started = loop.time()
        # Raises OverloadedError (refused), DeadlineError (no slot before the deadline).
        await lane.acquire(loop, self._wait, None if limit is None else started + limit)
        if calls.closed:
            lane.release()
            raise errors.ClosedError("the Database closed while the transaction waited")
        if limit is not None:
            limit = max(0.0, limit - (loop.time() - started))
        req = calls.request(Op.TRANSACTION, limit, lane, channel=channel)
        lane.queue.put(req)
        try:
            await calls.wait(req, limit)
        except BaseException:
            # Cancelled or timed out while waiting for the writer: if BEGIN happens anyway,
            # end it at once (the channel is already closed if it didn't).
            state.ended = True
            self._abandon(state)
            raise
        self._state = state
        _current.set(state)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        state, self._state = self._state, None
        if state is None:
            return
        if et is not None and issubclass(et, GeneratorExit):
            # The task was garbage-collected (or its coroutine closed) inside the block:
            # nothing may be awaited now. The outermost block sends ROLLBACK without waiting
            # for its answer, so the writer is free at once.
            if not self._nested:
                state.ended = True
                self._abandon(state)
            return
        if self._nested:
            if et is None:
                await state.call(Op.RELEASE, None)
            else:
                await _quietly(state.call(Op.ROLLBACK_TO, None))
            return
        state.ended = True  # calls from now on, even from tasks of this block, go the usual way
        end = self._calls.request(Op.COMMIT if et is None else Op.ROLLBACK, None)
        end.fut.add_done_callback(consume)  # answered after we were cancelled: not an error
        try:
            state.channel.send(end)
        except errors.Error:
            if et is None:
                raise
            return  # rolling back a transaction that is already gone
        if et is None:
            # Shielded: once COMMIT is sent, its outcome is reported even if we are cancelled.
            await asyncio.shield(end.fut)
        else:
            await _quietly(asyncio.shield(end.fut))

    def _abandon(self, state: TransactionState) -> None:
        # Roll back without waiting for the answer; the answer is consumed, so asyncio never
        # logs it as an exception nobody retrieved.
        end = self._calls.request(Op.ROLLBACK, None)
        end.fut.add_done_callback(consume)
        try:
            state.channel.send(end)
        except errors.Error:
            end.fut.cancel()  # the channel closed: nothing to roll back


async def _quietly(awaitable: Any) -> None:
    # Rolling back after an error: the original exception is what the caller must see.
    try:
        await awaitable
    except errors.Error:
        pass
