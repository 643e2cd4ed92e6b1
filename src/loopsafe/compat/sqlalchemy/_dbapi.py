"""The synchronous DB-API face SQLAlchemy drives, over the aiosqlite-compatible adapter.

SQLAlchemy's asyncio support runs its (synchronous) engine code in a greenlet and turns
each driver coroutine into a blocking call with ``await_``: every ``await_`` is a
greenlet switch and, with aiosqlite, a thread hop. These classes keep that count at one
per statement: ``execute`` creates the driver cursor, runs the statement and reads its
rows in a single coroutine (the adapter answers cursor creation and fetches after its
eager execute without a thread), ``fetch*`` and ``close`` are answered from memory, and
``commit`` / ``rollback`` with no transaction open (the pool's reset on every check-in)
return without awaiting anything.

SQLAlchemy's own adapters for aiosqlite differ between 2.0 and 2.1; these depend only
on what both share (``AdaptedConnection`` and ``await_only``).
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from sqlalchemy.engine import AdaptedConnection
from sqlalchemy.util.concurrency import await_only

# The DB-API names SQLAlchemy reads off the module (exceptions from the adapter, which
# re-exports sqlite3's, so that errors raised by it are these classes).
_EXCEPTIONS = (
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
)


class Cursor:
    """A DB-API cursor whose ``execute`` reads the whole result in one await.

    ``fetchone`` / ``fetchmany`` / ``fetchall`` and ``close`` never await.
    """

    server_side = False
    __slots__ = ("_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._rows: collections.deque[Any] = collections.deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def _execute(self, operation: str, parameters: Any) -> None:
        driver = self._connection._connection
        cursor = await driver.execute(operation, parameters)
        description = cursor.description
        if description:
            self._rows = collections.deque(await cursor.fetchall())
        self.description = description
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    async def _executemany(self, operation: str, seq_of_parameters: Any) -> None:
        cursor = await self._connection._connection.executemany(operation, seq_of_parameters)
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    def execute(self, operation: str, parameters: Any = None) -> None:
        """Run one statement and keep its rows; ``description``, ``rowcount`` and
        ``lastrowid`` are set from it. Raises the adapter's DB-API errors."""
        await_only(self._execute(operation, () if parameters is None else parameters))

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        """Run one statement once per parameter set (atomically, as the adapter does)."""
        await_only(self._executemany(operation, seq_of_parameters))

    def fetchone(self) -> Any:
        rows = self._rows
        return rows.popleft() if rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        count = min(self.arraysize if size is None else size, len(rows))
        return [rows.popleft() for _ in range(count)]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        # SQLAlchemy (2.0.44 and later) closes a buffered result's cursor before handing
        # it out of the greenlet; this one holds nothing but its rows.
        pass

    def setinputsizes(self, *sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass

    def __iter__(self) -> Any:
        rows = self._rows
        while rows:
            yield rows.popleft()


class ServerSideCursor:
    """The cursor behind ``stream()`` / ``yield_per``: rows are fetched from the adapter's
    cursor as they are asked for, and it must be closed (SQLAlchemy does)."""

    server_side = True
    __slots__ = ("_connection", "_cursor", "arraysize")

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._cursor: Any = None
        self.arraysize = 1

    @property
    def description(self) -> Any:
        return None if self._cursor is None else self._cursor.description

    @property
    def rowcount(self) -> int:
        return -1 if self._cursor is None else int(self._cursor.rowcount)

    @property
    def lastrowid(self) -> int | None:
        return None if self._cursor is None else self._cursor.lastrowid

    async def _execute(self, operation: str, parameters: Any) -> None:
        self._cursor = await self._connection._connection.execute(operation, parameters)

    def execute(self, operation: str, parameters: Any = None) -> None:
        await_only(self._execute(operation, () if parameters is None else parameters))

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        driver = self._connection._connection
        self._cursor = await_only(driver.executemany(operation, seq_of_parameters))

    def fetchone(self) -> Any:
        return await_only(self._cursor.fetchone())

    def fetchmany(self, size: int | None = None) -> Any:
        return await_only(self._cursor.fetchmany(self.arraysize if size is None else size))

    def fetchall(self) -> Any:
        return await_only(self._cursor.fetchall())

    async def _async_soft_close(self) -> None:
        pass  # its rows are still to be read

    def close(self) -> None:
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            await_only(cursor.close())

    def setinputsizes(self, *sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass


class Connection(AdaptedConnection):
    """A DB-API connection over one adapter connection (a cheap handle on the shared
    Database). ``driver_connection`` is the adapter's ``Connection``."""

    __slots__ = ("dbapi",)

    def __init__(self, dbapi: Module, connection: Any) -> None:
        self.dbapi = dbapi
        self._connection = connection

    def cursor(self, server_side: bool = False) -> Cursor | ServerSideCursor:
        return ServerSideCursor(self) if server_side else Cursor(self)

    def execute(self, operation: str, parameters: Any = None) -> Cursor:
        """Run one statement on a new cursor and return it (``sqlite3`` has this too)."""
        cursor = Cursor(self)
        cursor.execute(operation, parameters)
        return cursor

    @property
    def isolation_level(self) -> str | None:
        level: str | None = self._connection.isolation_level
        return level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection.isolation_level = value

    @property
    def in_transaction(self) -> bool:
        return bool(self._connection.in_transaction)

    def commit(self) -> None:
        """Commit the open transaction; with none open, return at once."""
        if self._connection.in_transaction:
            await_only(self._connection.commit())

    def rollback(self) -> None:
        """Roll back the open transaction; with none open (the pool's reset on return of
        a read-only checkout) return at once, without awaiting."""
        if self._connection.in_transaction:
            await_only(self._connection.rollback())

    def create_function(self, name: str, narg: int, func: Callable[..., Any], **kw: Any) -> None:
        await_only(self._connection.create_function(name, narg, func, **kw))

    def close(self) -> None:
        """Close the handle (its transaction, if any, is rolled back)."""
        await_only(self._connection.close())

    def terminate(self) -> None:
        """Close the handle without awaiting (the pool's hard close, a connection
        garbage-collected outside SQLAlchemy's greenlet): an open transaction is aborted
        at once."""
        self._connection.stop()


class Module:
    """The DB-API module SQLAlchemy sees: ``connect`` and the adapter's exceptions."""

    paramstyle = "qmark"
    apilevel = "2.0"
    threadsafety = 1
    PARSE_COLNAMES = sqlite3.PARSE_COLNAMES
    PARSE_DECLTYPES = sqlite3.PARSE_DECLTYPES
    Binary = sqlite3.Binary

    def __init__(self, driver: ModuleType) -> None:
        self.driver = driver
        # SQLAlchemy's pysqlite base reads the SQLite version off the module.
        self.sqlite_version = sqlite3.sqlite_version
        self.sqlite_version_info = sqlite3.sqlite_version_info
        for name in _EXCEPTIONS:
            setattr(self, name, getattr(driver, name, getattr(sqlite3, name)))

    def connect(self, database: str, **kwargs: Any) -> Connection:
        """Open an adapter connection (awaited in SQLAlchemy's greenlet) and wrap it."""
        creator = kwargs.pop("async_creator_fn", None)
        opening = (
            creator(database, **kwargs) if creator else self.driver.connect(database, **kwargs)
        )
        return Connection(self, await_only(opening))

    def __getattr__(self, name: str) -> Any:
        # Anything else SQLAlchemy or a user looks up (constants, adapters) is sqlite3's.
        return getattr(sqlite3, name)
