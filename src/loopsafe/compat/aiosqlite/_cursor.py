"""The adapter's Cursor: a statement's whole result, fetched in one hop at ``execute``.

Fetching is answered from the rows already here: ``fetchone`` / ``fetchmany`` /
``fetchall`` and iteration never touch a thread (SQLAlchemy's aiosqlite dialect fetches
everything at once too). Large results belong in ``Database.iterate``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from loopsafe.engine import Result

if TYPE_CHECKING:
    from loopsafe.compat.aiosqlite._connection import Connection, Session

T = TypeVar("T")
RowFactory = Callable[[sqlite3.Cursor, tuple[Any, ...]], Any]


class Pending(Generic[T]):
    """What ``Connection.execute`` and ``Connection.cursor`` return: ``await`` it for
    the cursor, or ``async with`` it to close the cursor on exit (as aiosqlite's)."""

    __slots__ = ("_coro", "_made")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self._made: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._coro.__await__()

    async def __aenter__(self) -> T:
        self._made = await self._coro
        return self._made

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        made = self._made
        close: Callable[[], Awaitable[None]] | None = getattr(made, "close", None)
        if close is not None:
            await close()


class Cursor:
    """An aiosqlite-compatible cursor on a loopsafe :class:`Connection`.

    ``execute`` / ``executemany`` / ``executescript`` return the cursor itself; the
    attributes (``description``, ``rowcount``, ``lastrowid``) are those of its last
    statement, as in ``sqlite3`` (``lastrowid`` is ``None`` after a statement that
    inserted no row, instead of a rowid left over from an earlier one).
    """

    def __init__(self, connection: Connection, session: Session) -> None:
        self._connection = connection
        self._session = session
        self._rows: list[Any] = []
        self._pos = 0
        self._closed = False
        self.arraysize = 1
        self.row_factory: RowFactory | None = connection.row_factory
        self.description: tuple[tuple[Any, ...], ...] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    @property
    def connection(self) -> Connection:
        """The Connection this cursor belongs to."""
        return self._connection

    def _take(self, result: Result) -> None:
        self._rows = result.rows
        self._pos = 0
        self.description = result.description
        self.rowcount = result.rowcount
        if result.lastrowid is not None:
            self.lastrowid = result.lastrowid

    def _check(self) -> None:
        self._session.check_open()
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed cursor.")

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        """Run one statement (one hop) and keep its whole result; return the cursor.

        Raises ``sqlite3`` exceptions (see the module); a cancel or deadline as the
        Connection's calls.
        """
        self._check()
        self._take(await self._session.run(sql, parameters, self.row_factory))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        """Run one statement per parameter set, all or none; return the cursor."""
        self._check()
        result = await self._session.run_many(sql, parameters)
        self._rows, self._pos, self.description = [], 0, None
        self.rowcount = result.rowcount
        return self

    async def executescript(self, sql_script: str) -> Cursor:
        """Commit what is open, then run the script (as ``sqlite3``); return the cursor."""
        self._check()
        await self._session.run_script(sql_script)
        self._rows, self._pos, self.description, self.rowcount = [], 0, None, -1
        return self

    async def fetchone(self) -> Any:
        """The next row, or ``None``. Answered without a thread."""
        self._check()
        if self._pos >= len(self._rows):
            return None
        row = self._rows[self._pos]
        self._pos += 1
        return row

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """The next ``size`` rows (default ``arraysize``). Answered without a thread."""
        self._check()
        count = self.arraysize if size is None else size
        rows = self._rows[self._pos : self._pos + count]
        self._pos += len(rows)
        return rows

    async def fetchall(self) -> list[Any]:
        """The remaining rows. Answered without a thread."""
        self._check()
        rows = self._rows[self._pos :] if self._pos else self._rows
        self._pos = len(self._rows)
        return rows

    async def close(self) -> None:
        """Close the cursor (no thread involved): its rows are dropped."""
        self._closed = True
        self._rows = []

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            row = await self.fetchone()
            if row is None:
                return
            yield row

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
