"""``async with db.transaction():`` — one task's calls in one transaction on the writer."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from loopsafe import errors
from loopsafe.engine._channel import Channel
from loopsafe.engine._request import COMMIT, RELEASE, ROLLBACK, ROLLBACK_TO, SAVEPOINT, TRANSACTION

if TYPE_CHECKING:
    from loopsafe.engine.database import Database


class TransactionState:
    """The open transaction of one task: who owns it and its channel to the writer."""

    __slots__ = ("channel", "db", "owner")

    def __init__(self, db: Database, owner: asyncio.Task[Any] | None, channel: Channel) -> None:
        self.db = db
        self.owner = owner
        self.channel = channel

    async def call(
        self, op: int, sql: str, params: Any, timeout: float | None, arg: Any = None
    ) -> Any:
        """Run one call on the writer inside this transaction (no queue admission: the
        transaction already holds the writer)."""
        db = self.db
        if timeout is None:
            timeout = db.options.timeout
        req = db._request(op, sql, params, timeout, None, arg)
        self.channel.send(req)
        return await db._wait(req, timeout)


class Transaction:
    """The async context manager returned by ``Database.transaction()``."""

    def __init__(
        self,
        db: Database,
        var: ContextVar[TransactionState | None],
        timeout: float | None,
        wait: bool = False,
    ) -> None:
        self._db = db
        self._wait = wait
        self._var = var
        self._timeout = timeout
        self._state: TransactionState | None = None
        self._token: Token[TransactionState | None] | None = None
        self._nested = False

    async def __aenter__(self) -> None:
        if self._state is not None:
            raise errors.TransactionError("this transaction() block is already in use")
        db = self._db
        state = db._transaction_of_current_task()
        if state is not None:
            self._nested = True
            await state.call(SAVEPOINT, "", None, None)
            self._state = state
            return
        if db.closed:
            raise errors.ClosedError("the Database is closed")
        if db.options.readonly:
            raise errors.ReadOnlyError("the Database was opened with readonly=True")
        channel = Channel(self._timeout)
        state = TransactionState(db, asyncio.current_task(), channel)
        lane = db._write
        # The block's timeout also bounds the wait for the writer.
        limit = self._timeout if self._timeout is not None else db.options.timeout
        deadline = None if limit is None else db._loop.time() + limit
        await lane.acquire(db._loop, self._wait, deadline)
        if db.closed:
            lane.release()
            raise errors.ClosedError("the Database closed while the transaction waited")
        req = db._request(TRANSACTION, "", None, limit, lane, channel)
        lane.queue.put(req)
        try:
            await db._wait(req, limit)
        except BaseException:
            # Cancelled or timed out while waiting for the writer: if BEGIN happens anyway,
            # end it at once (the channel is already closed if it didn't).
            try:
                channel.send(_ending(db, ROLLBACK))
            except errors.Error:
                pass
            raise
        self._state = state
        self._token = self._var.set(state)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        state, self._state = self._state, None
        if state is None:
            return
        if self._nested:
            if et is None:
                await state.call(RELEASE, "", None, None)
            else:
                await _quietly(state.call(ROLLBACK_TO, "", None, None))
            return
        if self._token is not None:
            self._var.reset(self._token)
            self._token = None
        end = _ending(self._db, COMMIT if et is None else ROLLBACK)
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


def _ending(db: Database, op: int) -> Any:
    return db._request(op, "", None, None, None, None)


async def _quietly(awaitable: Any) -> None:
    # Rolling back after an error: the original exception is what the caller must see.
    try:
        await awaitable
    except errors.Error:
        pass
