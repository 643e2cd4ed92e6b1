"""What every store shares: construction from a target, open/close, the Database it runs on.

A store is built synchronously (so a module can create it at import time, where a worker
command finds it) and opened on the running loop. Given a path or URL it opens its own
Database on that file and closes it with itself; given a Database it shares that file —
which is how a queue enqueues inside a caller's transaction — and never closes it. Given
a ``postgresql://`` URL it opens an asyncpg pool on that server (tables in the URL's
``schema``) and closes it with itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from loopsafe.engine import Database
from loopsafe.engine import open as open_database
from loopsafe.errors import ClosedError, StoreError
from loopsafe.stores import _pgschema
from loopsafe.stores._postgres import open_pool, server_errors
from loopsafe.stores._schema import migrate
from loopsafe.stores._target import PostgresTarget, StoreTarget, Target, parse_target

if TYPE_CHECKING:
    import asyncpg

__all__ = ["Store", "StoreTarget"]


class Store:
    """Base of :class:`Cache`, :class:`Flags` and :class:`Queue`.

    Subclasses name their ``schema`` (the store name in ``loopsafe_schema``) and list their
    ``migrations`` (SQLite) and ``postgres_migrations`` (``None``: the store has no
    PostgreSQL backend) and may set ``postgres_settings`` (server settings for its pool's
    connections); they may override :meth:`_opened` and :meth:`_closing` for work of
    their own (background tasks, snapshots), and look at :attr:`backend` to pick theirs.
    """

    schema: str = ""
    migrations: Sequence[str] = ()
    postgres_migrations: Sequence[str] | None = None
    # Server settings for every connection of the store's PostgreSQL pool.
    postgres_settings: Mapping[str, str] = {}

    def __init__(self, target: StoreTarget, *, open_options: dict[str, Any] | None = None):
        self._target: Target = parse_target(target)
        self._open_options = dict(open_options or {})
        if self._target.database is not None and self._open_options:
            raise ValueError("open_options apply only when the store opens its own file")
        if self._target.postgres is not None:
            if self._open_options:
                raise ValueError(
                    "open_options apply to SQLite files; a PostgreSQL target takes its "
                    "options in the URL (?schema=...&pool_size=...)"
                )
            if self.postgres_migrations is None:
                raise StoreError(
                    f"{type(self).__name__} has no PostgreSQL backend in this loopsafe: "
                    f"use a SQLite path or sqlite:/// URL"
                )
        self._db: Database | None = None
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._owns_db = False
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self._on_close: list[Callable[[], Awaitable[None]]] = []

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> Self:
        """Open the store: its Database (unless one was given) or its PostgreSQL pool, then
        its schema migrations.

        Idempotent: opening an open store returns at once. Raises
        :class:`~loopsafe.SchemaVersionError` for a file (or PostgreSQL schema) newer than
        this code, :class:`~loopsafe.CannotOpenError` for a PostgreSQL server that can't be
        reached or refuses the login, :class:`~loopsafe.ServerError` when it fails a
        migration (a missing privilege),
        :class:`~loopsafe.CorruptError` for a file that is not SQLite,
        :class:`~loopsafe.CannotOpenError` for a path that can't be opened,
        :class:`~loopsafe.ClosedError` after :meth:`close`. A cancelled open closes what it
        had opened.
        """
        if self._closed:
            raise ClosedError(f"this {type(self).__name__} is closed; create a new one")
        if self.is_open:
            return self
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.is_open:
                return self
            if self._target.postgres is not None:
                await self._open_postgres(self._target.postgres)
                return self
            db = self._target.database
            owns = db is None
            if db is None:
                assert self._target.path is not None
                db = await open_database(self._target.path, **self._open_options)
            elif db.closed:
                raise ClosedError("the Database this store was given is closed")
            try:
                if self.migrations:
                    await migrate(db, self.schema, self.migrations)
                self._db, self._owns_db = db, owns
                await self._opened()
            except BaseException:
                self._db = None
                if owns:
                    await db.close()
                raise
        return self

    async def _open_postgres(self, target: PostgresTarget) -> None:
        assert self.postgres_migrations is not None  # refused at construction
        pool = await open_pool(target, self.postgres_settings)
        try:
            await server_errors(_pgschema.migrate)(
                pool, target.schema, self.schema, self.postgres_migrations
            )
            self._pool = pool
            await self._opened()
        except BaseException:
            self._pool = None
            await pool.close()
            raise

    async def close(self) -> None:
        """Stop the store's own work, run the :meth:`on_close` callbacks, and close its
        Database (or PostgreSQL pool) if the store opened it.

        Idempotent. A shared Database stays open. Calls made after ``close`` raise
        :class:`~loopsafe.ClosedError`. A callback that raises does not keep the others, or
        the store's own Database or pool, from closing; its exception is raised once they
        are closed (the first one, if several raised).
        """
        if self._closed:
            return
        self._closed = True
        try:
            try:
                if self.is_open:
                    await self._closing()
            finally:
                await self._run_close_callbacks()
        finally:
            pool, self._pool = self._pool, None
            db, self._db = self._db, None
            if pool is not None:
                await pool.close()
            elif db is not None and self._owns_db:
                await db.close()

    def on_close(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Have :meth:`close` await ``callback()`` — for resources that live beside the
        store and must not outlive it (a table of the application's on the store's file or
        schema, with a pool of its own).

        Callbacks run after the store's own work has stopped (a queue's workers have
        finished or handed their jobs back) and before its Database or pool closes, so they
        may still use it; the last registered runs first. Each runs once. Raises
        :class:`~loopsafe.ClosedError` once the store is closed (the callback would never
        run).
        """
        if self._closed:
            raise ClosedError(f"this {type(self).__name__} is closed; its close callbacks ran")
        self._on_close.append(callback)

    async def _run_close_callbacks(self) -> None:
        callbacks, self._on_close = self._on_close, []
        failure: BaseException | None = None
        for callback in reversed(callbacks):
            try:
                await callback()
            except BaseException as e:  # the others still run; the first is raised after
                failure = failure or e
        if failure is not None:
            raise failure

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def migrate(self) -> int:
        """Bring the target's tables to this store's newest schema version, without opening
        the store for use (no pool kept, no background work); the version now in place.

        What :meth:`open` does first, for deploy steps (``loopsafe migrate URL``). Safe
        while other processes open the same target. Raises as :meth:`open`; a cancel rolls
        back the step in progress and closes what it opened.
        """
        postgres = self._target.postgres
        if postgres is not None:
            assert self.postgres_migrations is not None  # refused at construction
            pool = await open_pool(dataclasses.replace(postgres, pool_size=1))
            try:
                return await server_errors(_pgschema.migrate)(
                    pool, postgres.schema, self.schema, self.postgres_migrations
                )
            finally:
                await pool.close()
        shared = self._target.database
        if shared is not None:
            return await migrate(shared, self.schema, self.migrations)
        assert self._target.path is not None
        async with open_database(self._target.path, **self._open_options) as db:
            return await migrate(db, self.schema, self.migrations)

    async def ping(self, timeout: float = 1.0) -> None:
        """One round trip to the store's storage (``SELECT 1``), for readiness checks.

        Returns ``None`` once it answered. Raises :class:`StoreError` before :meth:`open`,
        :class:`~loopsafe.ClosedError` after :meth:`close`, :class:`TimeoutError` (on SQLite
        :class:`~loopsafe.DeadlineError`) when no answer came within ``timeout`` seconds —
        the query is then stopped — and :class:`~loopsafe.ServerError` when PostgreSQL fails
        the call.
        """
        if self._pool is not None:
            await server_errors(self._pool.fetchval)("SELECT 1", timeout=timeout)
        else:
            await self.database.fetchval("SELECT 1", timeout=timeout)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``: what the target names (known before open)."""
        return self._target.scheme

    @property
    def database(self) -> Database:
        """The Database the store runs on. Raises :class:`StoreError` before :meth:`open`
        or for a store on PostgreSQL, and :class:`~loopsafe.ClosedError` after
        :meth:`close`."""
        db = self._db
        if db is None:
            self._raise_not_open()
            raise StoreError(
                f"this {type(self).__name__} runs on PostgreSQL, not a Database: see .pool"
            )
        return db

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        """The asyncpg pool of a store on PostgreSQL. Raises :class:`StoreError` before
        :meth:`open` or for a store on SQLite, and :class:`~loopsafe.ClosedError` after
        :meth:`close`."""
        pool = self._pool
        if pool is None:
            self._raise_not_open()
            raise StoreError(f"this {type(self).__name__} runs on SQLite: see .database")
        return pool

    @property
    def postgres(self) -> PostgresTarget:
        """Where a store on PostgreSQL connects (for connections of its own, e.g. LISTEN).
        Raises :class:`StoreError` for a store on SQLite."""
        target = self._target.postgres
        if target is None:
            raise StoreError(f"this {type(self).__name__} runs on SQLite")
        return target

    def _raise_not_open(self) -> None:
        if self.is_open:
            return
        if self._closed:
            raise ClosedError(f"this {type(self).__name__} is closed")
        raise StoreError(
            f"this {type(self).__name__} is not open: `await store.open()` or "
            f"`async with store:` first"
        )

    @property
    def is_open(self) -> bool:
        return self._db is not None or self._pool is not None

    def __repr__(self) -> str:
        state = "open" if self.is_open else ("closed" if self._closed else "not open")
        return f"<{type(self).__name__} on {self._target.describe()}, {state}>"

    # -- for subclasses ----------------------------------------------------------------------

    async def _opened(self) -> None:
        """Called once the Database is open and migrated (start background work here)."""

    async def _closing(self) -> None:
        """Called before the Database closes (stop background work here)."""
