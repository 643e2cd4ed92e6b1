"""The adapter's Connection: aiosqlite's API on a shared loopsafe Database.

Each Connection is a cheap handle: every Connection to one file (with the same options) on
one event loop shares one Database (``loopsafe.engine.acquire``) — one writer and a pool
of readers for the process — instead of a thread and a connection of its own. What a
Connection owns is its :class:`Session`: its transaction (a
:class:`~loopsafe.TransactionHandle` while one is open) and its settings.
"""

from __future__ import annotations

import asyncio
import sqlite3
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from loopsafe import errors
from loopsafe.compat.aiosqlite._cursor import Cursor, Pending, RowFactory
from loopsafe.compat.aiosqlite._errors import ClosedConnectionError, to_dbapi
from loopsafe.compat.aiosqlite._statements import Kind, Statement, classify
from loopsafe.engine import (
    Database,
    ExecuteResult,
    Result,
    TransactionHandle,
    acquire,
    release,
    release_nowait,
)

_NOTHING = Result([], None, -1, None)
Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]
IsolationLevel = str | None
_LEVELS = ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def _check_level(value: object) -> IsolationLevel:
    if value is None or (isinstance(value, str) and value.upper() in _LEVELS):
        return value
    raise ValueError("isolation_level string must be '', 'DEFERRED', 'IMMEDIATE', or 'EXCLUSIVE'")


class Session:
    """One Connection's state on the shared Database, and the calls its cursors make.

    sqlite3's legacy transaction control: with ``isolation_level`` not ``None`` an
    ``INSERT`` / ``UPDATE`` / ``DELETE`` / ``REPLACE`` outside a transaction opens one
    (a handle, which takes the writer at that first write: ``BEGIN IMMEDIATE`` whatever
    the level, so a write never fails at once with "database is locked"); other
    statements outside a transaction run by themselves (a write in a group commit).
    """

    def __init__(self, db: Database, isolation_level: IsolationLevel) -> None:
        self.db = db
        self.txn: TransactionHandle | None = None
        self.isolation_level = isolation_level
        self.text_factory: Callable[[bytes], Any] = str
        self.total_changes = 0
        self.closed = False
        self.outer_savepoint = ""  # a SAVEPOINT that opened the transaction: its RELEASE commits

    def check_open(self) -> None:
        if self.closed:
            raise ClosedConnectionError("Connection closed")

    async def run(self, sql: str, parameters: Any, row_factory: RowFactory | None) -> Result:
        """Run one statement for a cursor and return its whole result (one hop)."""
        params = () if parameters is None else parameters
        statement = classify(sql)
        try:
            if statement.kind is Kind.DML or statement.kind is Kind.OTHER:
                return await self._statement(sql, params, statement, row_factory)
            await self._control(statement)
            return _NOTHING
        except errors.Error as exc:
            raise to_dbapi(exc) from exc

    async def _statement(
        self, sql: str, params: Any, statement: Statement, row_factory: RowFactory | None
    ) -> Result:
        text_factory = None if self.text_factory is str else self.text_factory
        txn = self.txn
        dml = statement.kind is Kind.DML
        if txn is None and dml and self.isolation_level is not None:
            txn = self.txn = await self.db.begin(wait=True)  # holds nothing until it writes
        if txn is None:
            result = await self.db.query(
                sql, params, wait=True, row_factory=row_factory, text_factory=text_factory
            )
        else:
            result = await txn.query(
                sql, params, row_factory=row_factory, text_factory=text_factory
            )
        if dml and result.rowcount > 0:
            self.total_changes += result.rowcount
        return result

    async def _control(self, statement: Statement) -> None:
        # Transaction statements sent as SQL become calls on the handle, with sqlite3's
        # errors for the ones that make no sense in the current state.
        kind, name, txn = statement.kind, statement.name, self.txn
        if kind is Kind.BEGIN:
            if txn is not None:
                raise sqlite3.OperationalError("cannot start a transaction within a transaction")
            self.txn = await self.db.begin(immediate=statement.immediate, wait=True)
        elif kind is Kind.COMMIT:
            if txn is None:
                raise sqlite3.OperationalError("cannot commit - no transaction is active")
            await self.commit()
        elif kind is Kind.ROLLBACK:
            if txn is None:
                raise sqlite3.OperationalError("cannot rollback - no transaction is active")
            await self.rollback()
        elif kind is Kind.SAVEPOINT:
            if txn is None:
                txn = self.txn = await self.db.begin(wait=True)
                self.outer_savepoint = name
            await txn.savepoint(name)
        elif txn is None:
            raise sqlite3.OperationalError(f"no such savepoint: {name}")
        elif kind is Kind.RELEASE and name.lower() == self.outer_savepoint.lower():
            await self.commit()
        elif kind is Kind.RELEASE:
            await txn.release(name)
        else:
            await txn.rollback_to(name)

    async def run_many(self, sql: str, parameters: Iterable[Any]) -> ExecuteResult:
        """``executemany``: all parameter sets or none, in the connection's transaction."""
        statement = classify(sql)
        try:
            if statement.kind is not Kind.DML and statement.kind is not Kind.OTHER:
                raise sqlite3.ProgrammingError("executemany() can only execute DML statements.")
            txn = self.txn
            if txn is None and statement.kind is Kind.DML and self.isolation_level is not None:
                txn = self.txn = await self.db.begin(wait=True)
            if txn is None:
                result = await self.db.executemany(sql, parameters, wait=True)
            else:
                result = await txn.executemany(sql, parameters)
        except errors.Error as exc:
            raise to_dbapi(exc) from exc
        if statement.kind is Kind.DML and result.rowcount > 0:
            self.total_changes += result.rowcount
        return result

    async def run_script(self, script: str) -> None:
        """``executescript``: commit what is open (as sqlite3 does), then run the script."""
        try:
            if self.txn is not None:
                await self.commit()
            await self.db.executescript(script)
        except errors.Error as exc:
            raise to_dbapi(exc) from exc

    async def read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` where this connection's reads run (its transaction, if one writes)."""
        try:
            if self.txn is not None:
                return await self.txn.read(fn)
            return await self.db.read(fn, wait=True)
        except errors.Error as exc:
            raise to_dbapi(exc) from exc

    async def commit(self) -> None:
        txn, self.txn = self.txn, None
        self.outer_savepoint = ""
        if txn is not None:
            try:
                await txn.commit()
            except errors.Error as exc:
                raise to_dbapi(exc) from exc

    async def rollback(self) -> None:
        txn, self.txn = self.txn, None
        self.outer_savepoint = ""
        if txn is not None:
            await txn.rollback()  # never fails: rolling back is what callers do after errors

    async def configure(self, fn: Callable[[sqlite3.Connection], object]) -> None:
        try:
            if self.txn is not None:
                await self.txn.configure(fn)  # it may hold the writer: run it there
            else:
                await self.db.configure(fn)
        except errors.Error as exc:
            raise to_dbapi(exc) from exc


class Connection:
    """An aiosqlite-compatible connection served by loopsafe. Create it with
    :func:`connect`; ``await`` it (or ``async with`` it) to open it.

    Calls that need no thread are answered without one: ``cursor()``, fetches (a cursor
    holds its statement's whole result), ``commit()`` / ``rollback()`` with nothing open.

    **Cancellation and deadlines**: each call is a loopsafe call (see
    ``loopsafe.Database``): a cancelled statement is interrupted. Inside a transaction that
    has written, a cancelled statement rolls the whole transaction back (the next call
    raises ``OperationalError``; ``rollback()`` clears it). Errors are ``sqlite3``'s
    classes (see ``loopsafe.compat.aiosqlite``).
    """

    def __init__(
        self,
        database: str,
        *,
        isolation_level: IsolationLevel,
        iter_chunk_size: int,
        options: Mapping[str, Any],
    ) -> None:
        self._path = database
        self._isolation_level = _check_level(isolation_level)
        self._options = dict(options)
        self._session: Session | None = None
        self._opening: asyncio.Future[Session] | None = None
        self.iter_chunk_size = iter_chunk_size
        self.row_factory: RowFactory | None = None
        self._text_factory: Callable[[bytes], Any] = str

    # -- opening and closing ---------------------------------------------------------------

    def __await__(self) -> Any:
        return self._open().__await__()

    async def _open(self) -> Connection:
        if self._session is not None:
            return self
        try:
            db = await acquire(self._path, **self._options)
        except errors.Error as exc:
            raise to_dbapi(exc) from exc
        session = Session(db, self._isolation_level)
        session.text_factory = self._text_factory
        self._session = session
        return self

    async def __aenter__(self) -> Connection:
        return await self._open()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Roll back what is open (as ``sqlite3``'s ``close``), give back this connection's
        share of the Database (the last share closes it). Closing twice does nothing.
        **Cancellation**: the share is given back anyway."""
        session = self._session
        if session is None or session.closed:
            return
        session.closed = True
        try:
            await session.rollback()
        finally:
            await release(session.db)

    def stop(self) -> asyncio.Future[None] | None:
        """Close at once, without waiting (aiosqlite's ``stop``): an open transaction is
        abandoned (rolled back by the writer) and the share given back. Returns a finished
        future to await when a loop is running, else ``None``. Prefer :meth:`close`."""
        session = self._session
        if session is not None and not session.closed:
            session.closed = True
            if session.txn is not None:
                session.txn.abort()
                session.txn = None
            release_nowait(session.db)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        done: asyncio.Future[None] = loop.create_future()
        done.set_result(None)
        return done

    def __del__(self) -> None:
        session = getattr(self, "_session", None)
        if session is None or session.closed:
            return
        warnings.warn(
            f"{self!r} was deleted before being closed. "
            "Please use 'async with' or '.close()' to close the connection properly.",
            ResourceWarning,
            stacklevel=1,
        )
        self.stop()

    # -- attributes ------------------------------------------------------------------------

    @property
    def database(self) -> Database:
        """The shared loopsafe Database serving this connection."""
        return self._live().db

    @property
    def transaction(self) -> TransactionHandle | None:
        """The handle of the open transaction, ``None`` outside one."""
        return self._session.txn if self._session is not None else None

    @property
    def in_transaction(self) -> bool:
        """True between the start of a transaction (``BEGIN``, or the implicit one before a
        write) and its commit or rollback."""
        return self._session is not None and self._session.txn is not None

    @property
    def isolation_level(self) -> IsolationLevel:
        """As ``sqlite3``'s: ``None`` for autocommit, else the level of the implicit
        ``BEGIN`` (the writer is always taken with ``BEGIN IMMEDIATE`` at the first write)."""
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value: IsolationLevel) -> None:
        level = _check_level(value)
        if level is None and self.in_transaction:
            # sqlite3 commits here; an attribute can't wait for that.
            raise sqlite3.OperationalError(
                "commit() first, or use 'await set_isolation_level(None)', which commits"
            )
        self._isolation_level = level
        if self._session is not None:
            self._session.isolation_level = level

    async def set_isolation_level(self, value: IsolationLevel) -> None:
        """Set ``isolation_level``; setting ``None`` commits an open transaction first, as
        ``sqlite3``'s attribute does."""
        level = _check_level(value)
        if level is None and self._session is not None:
            await self._session.commit()
        self.isolation_level = level

    @property
    def text_factory(self) -> Callable[[bytes], Any]:
        """As ``sqlite3``'s, for this connection's statements only."""
        return self._text_factory

    @text_factory.setter
    def text_factory(self, value: Callable[[bytes], Any]) -> None:
        self._text_factory = value
        if self._session is not None:
            self._session.text_factory = value

    @property
    def total_changes(self) -> int:
        """Rows this connection's ``INSERT`` / ``UPDATE`` / ``DELETE`` statements changed
        (not those of other connections sharing the Database, nor of scripts)."""
        return self._session.total_changes if self._session is not None else 0

    # -- statements ------------------------------------------------------------------------

    def _live(self) -> Session:
        session = self._session
        if session is None or session.closed:
            raise ClosedConnectionError("Connection closed")
        return session

    def cursor(self) -> Pending[Cursor]:
        """A new Cursor (no thread involved): ``await`` it or ``async with`` it."""
        return Pending(self._cursor())

    async def _cursor(self) -> Cursor:
        return Cursor(self, self._live())

    def execute(self, sql: str, parameters: Any = None) -> Pending[Cursor]:
        """Run one statement on a new cursor (one hop); ``await`` for the cursor, or
        ``async with`` to close it after."""
        return Pending(self._execute(sql, parameters))

    async def _execute(self, sql: str, parameters: Any) -> Cursor:
        cursor = Cursor(self, self._live())
        return await cursor.execute(sql, parameters)

    async def execute_insert(self, sql: str, parameters: Any = None) -> tuple[int] | None:
        """Run an ``INSERT`` and return ``(rowid,)`` of the row it inserted, ``None`` when
        it inserted none."""
        result = await self._live().run(sql, parameters, None)
        return None if result.lastrowid is None else (result.lastrowid,)

    async def execute_fetchall(self, sql: str, parameters: Any = None) -> list[Any]:
        """Run one statement and return all its rows (one hop)."""
        return (await self._live().run(sql, parameters, self.row_factory)).rows

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        """Run one statement per parameter set (all or none) on a new cursor."""
        cursor = Cursor(self, self._live())
        return await cursor.executemany(sql, parameters)

    async def executescript(self, sql_script: str) -> Cursor:
        """Commit what is open, run the script (each statement by itself unless it holds
        its own ``BEGIN`` ... ``COMMIT``)."""
        cursor = Cursor(self, self._live())
        return await cursor.executescript(sql_script)

    async def commit(self) -> None:
        """Commit the open transaction; nothing (and no thread) when none is open."""
        await self._live().commit()

    async def rollback(self) -> None:
        """Roll back the open transaction; nothing (and no thread) when none is open."""
        await self._live().rollback()

    # -- connection settings (shared by every Connection of the Database) ------------------

    async def create_function(
        self, name: str, num_params: int, func: Callable[..., Any], *, deterministic: bool = False
    ) -> None:
        """Register a user function on every connection of the shared Database."""
        await self._live().configure(
            lambda conn: conn.create_function(name, num_params, func, deterministic=deterministic)
        )

    async def set_trace_callback(self, fn: Callable[[str], object] | None) -> None:
        """Trace every statement of the shared Database's connections (loopsafe's own
        ``BEGIN`` / ``PRAGMA`` too, and other Connections' statements)."""
        await self._live().configure(lambda conn: conn.set_trace_callback(fn))

    async def set_authorizer(
        self, fn: Callable[[int, str | None, str | None, str | None, str | None], int] | None
    ) -> None:
        """Install an authorizer on every connection of the shared Database (it also sees
        loopsafe's own statements)."""
        await self._live().configure(lambda conn: conn.set_authorizer(fn))

    async def enable_load_extension(self, value: bool) -> None:
        """Allow (or refuse) loading extensions on every connection of the Database."""
        await self._live().configure(lambda conn: conn.enable_load_extension(value))

    async def load_extension(self, path: str) -> None:
        """Load an extension on every connection of the Database (the writer first: its
        error is raised here)."""
        await self._live().configure(lambda conn: conn.load_extension(path))

    async def set_progress_handler(self, handler: Callable[[], int | None], n: int) -> None:
        """Not offered: the progress handler is loopsafe's (it enforces deadlines). Cancel
        the task, or pass a timeout, to stop a statement."""
        raise sqlite3.NotSupportedError(
            "the progress handler is loopsafe's (it enforces deadlines and cancellation): "
            "cancel the task or use a timeout to stop a statement"
        )

    async def iterdump(self) -> AsyncIterator[str]:
        """Yield the SQL text of a dump of the database, as ``sqlite3``'s ``iterdump``
        (read in one hop, where this connection's reads run)."""
        lines: list[str] = await self._live().read(lambda conn: list(conn.iterdump()))
        for line in lines:
            yield line

    async def backup(
        self,
        target: Connection | sqlite3.Connection,
        *,
        pages: int = -1,
        progress: Callable[[int, int, int], object] | None = None,
        name: str = "main",
        sleep: float = 0.25,
    ) -> None:
        """Copy the database into ``target`` (another Connection of this module, or a
        ``sqlite3.Connection``), as ``sqlite3``'s ``backup``; what this connection has not
        committed is not copied."""
        dest = target.database if isinstance(target, Connection) else target
        try:
            await self._live().db.backup(
                dest, pages=pages, progress=progress, name=name, sleep=sleep
            )
        except errors.Error as exc:
            raise to_dbapi(exc) from exc
