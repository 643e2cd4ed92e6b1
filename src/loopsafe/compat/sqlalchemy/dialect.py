"""``LoopsafeDialect``: SQLAlchemy's ``sqlite+loopsafe://`` dialect.

SQLite's SQL, types, reflection and DDL are SQLAlchemy's own pysqlite dialect; what
changes is the driver underneath (``loopsafe.compat.aiosqlite``, every connection a
handle on one shared Database per file), the DB-API glue that awaits it once per
statement (``_dbapi``), and the pool (``LoopsafePool``).

SQLAlchemy's pysqlite dialect installs ``regexp`` and ``floor`` on each connection with
``create_function``; here the DB-API connections share their Database's threads, so the
functions go in the Database's per-connection setup hook instead, run once on the writer
and on every reader when the Database opens. A user's own hook
(``connect_args={"options": {"setup": fn}}``) runs after them.
"""

from __future__ import annotations

import functools
import importlib
import math
import re
import sqlite3
from collections.abc import Callable
from importlib import metadata
from typing import Any

from sqlalchemy import pool, util
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL

from loopsafe.compat.sqlalchemy._dbapi import Connection, Module
from loopsafe.compat.sqlalchemy._pool import LoopsafePool

Setup = Callable[[sqlite3.Connection], None]

# sqlite3.connect's arguments the adapter has no use for: each handle is on the shared
# Database's own connections, which live in their own threads.
_IGNORED_CONNECT_ARGS = ("check_same_thread", "cached_statements", "factory")


def _regexp(pattern: str, value: str | None) -> bool | None:
    if value is None:
        return None
    return re.search(pattern, value) is not None


def install_functions(connection: sqlite3.Connection) -> None:
    """The functions SQLAlchemy's SQLite dialect expects on every connection: ``regexp``
    (for ``regexp_match``) and ``floor``."""
    connection.create_function("regexp", 2, _regexp, deterministic=True)
    connection.create_function("floor", 1, math.floor, deterministic=True)


@functools.cache
def _with_user_setup(user: Setup) -> Setup:
    # Cached, so every connection of an engine passes the same function, and so shares
    # the one Database opened for (path, options).
    def setup(connection: sqlite3.Connection) -> None:
        install_functions(connection)
        user(connection)

    setup.__qualname__ = f"install_functions+{getattr(user, '__qualname__', 'setup')}"
    return setup


class _ExecutionContext(SQLiteExecutionContext):
    def create_server_side_cursor(self) -> Any:
        return self._dbapi_connection.cursor(server_side=True)


class LoopsafeDialect(SQLiteDialect_pysqlite):
    """``sqlite+loopsafe://`` for ``create_async_engine``.

    URLs are SQLAlchemy's SQLite URLs (``sqlite+loopsafe:///app.db``,
    ``sqlite+loopsafe://`` for ``:memory:``). ``connect_args`` go to
    ``loopsafe.compat.aiosqlite.connect``; ``connect_args={"options": {...}}`` carries
    loopsafe's ``open`` options (``readers``, ``timeout``, ``durability``, ...) and
    ``setup`` (a function run on every SQLite connection of the Database, after
    SQLAlchemy's functions). File databases get :class:`LoopsafePool`; ``:memory:``
    gets ``StaticPool`` (one connection, as for aiosqlite: an adapter connection to
    ``:memory:`` is a private database).
    """

    driver = "loopsafe"
    is_async = True
    supports_statement_cache = True
    supports_server_side_cursors = True
    has_terminate = True
    execution_ctx_cls = _ExecutionContext

    @classmethod
    def import_dbapi(cls) -> Any:
        return Module(importlib.import_module("loopsafe.compat.aiosqlite"))

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # An adapter connection to ":memory:" is a private database (as in sqlite3), so
        # every checkout must share one connection to see the same tables: StaticPool,
        # as SQLAlchemy gives aiosqlite.
        return LoopsafePool if cls._is_url_file_db(url) else pool.StaticPool

    def create_connect_args(self, url: URL) -> Any:
        args, kwargs = super().create_connect_args(url)
        for name in _IGNORED_CONNECT_ARGS:
            kwargs.pop(name, None)
        return args, kwargs

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        # loopsafe's own options travel in ``options``; SQLAlchemy's functions are added
        # to (or put before) the user's setup hook.
        options = dict(kwargs.get("options") or {})
        user = options.get("setup")
        options["setup"] = install_functions if user is None else _with_user_setup(user)
        kwargs["options"] = options
        return super().connect(*args, **kwargs)

    def on_connect(self) -> None:  # type: ignore[override]
        # regexp and floor come from the setup hook (see the module docstring); nothing
        # else needs doing per handle.
        return None

    def retrieve_dbapi_version(self, dbapi: Any) -> Any:
        return util.parse_version_string(metadata.version("loopsafe"))

    def get_driver_connection(self, connection: Any) -> Any:
        return connection._connection

    def do_terminate(self, dbapi_connection: Any) -> None:
        dbapi_connection.terminate()

    def is_disconnect(self, e: Any, connection: Any, cursor: Any) -> bool:
        # A handle whose Database was closed under it can't be used again: let the pool
        # replace it.
        text = str(e).lower()
        if "closed" in text and ("database" in text or "connection" in text):
            return True
        return bool(super().is_disconnect(e, connection, cursor))


dialect = LoopsafeDialect

__all__ = ["Connection", "LoopsafeDialect", "dialect", "install_functions"]
