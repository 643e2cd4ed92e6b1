"""An aiosqlite-compatible API served by loopsafe.

``import loopsafe.compat.aiosqlite as aiosqlite`` (or pass it where a library takes the
module): ``connect``, ``Connection``, ``Cursor`` and ``sqlite3``'s exception classes, with
aiosqlite's methods and attributes. Every Connection to one file (same options, same
event loop) shares one loopsafe Database — one writer, a pool of readers — instead of a
thread each.

Errors are ``sqlite3``'s classes: an error SQLite raised comes back as the class SQLite
gave it (message, ``sqlite_errorcode``, ``sqlite_errorname`` kept); loopsafe's own errors
map as in ``_errors.MAPPING`` (``DeadlineError`` / ``AbortedError`` / ``BusyError`` /
``OverloadedError`` -> ``OperationalError``, ``ClosedError`` / ``ArgumentError`` /
``ParameterError`` -> ``ProgrammingError``, ``IntegrityError`` -> ``IntegrityError``,
``CorruptError`` -> ``DatabaseError``); the loopsafe error is the ``__cause__``. A call on
a closed Connection raises an error that is both ``sqlite3.ProgrammingError`` and
``ValueError``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from sqlite3 import (
    PARSE_COLNAMES,
    PARSE_DECLTYPES,
    Binary,
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Row,
    Warning,
    paramstyle,
    register_adapter,
    register_converter,
    sqlite_version,
    sqlite_version_info,
)
from typing import Any
from urllib.parse import parse_qs, unquote

from loopsafe.compat.aiosqlite._connection import Connection, IsolationLevel
from loopsafe.compat.aiosqlite._cursor import Cursor
from loopsafe.compat.aiosqlite._errors import ClosedConnectionError

__all__ = [
    "PARSE_COLNAMES",
    "PARSE_DECLTYPES",
    "Binary",
    "ClosedConnectionError",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Row",
    "Warning",
    "connect",
    "paramstyle",
    "register_adapter",
    "register_converter",
    "sqlite_version",
    "sqlite_version_info",
]


def _location(database: Any, uri: bool) -> tuple[str, dict[str, Any]]:
    # As aiosqlite: a str, bytes (UTF-8), a path, or anything whose str() is the location.
    if isinstance(database, bytes):
        where = database.decode("utf-8")
    elif isinstance(database, str | os.PathLike):
        where = os.fspath(database)
        where = where if isinstance(where, str) else where.decode("utf-8")
    else:
        where = str(database)
    if not uri or not where.startswith("file:"):
        return where, {}
    path, _, query = where[5:].partition("?")
    params = {key: values[-1] for key, values in parse_qs(query).items()}
    mode = params.get("mode", "rwc")
    if mode == "memory" or path in ("", ":memory:"):
        return ":memory:", {}
    if mode not in ("ro", "rw", "rwc"):
        raise NotSupportedError(f"mode={mode} is not supported by loopsafe")
    return unquote(path), {"readonly": True} if mode == "ro" else {}


def connect(
    database: str | bytes | os.PathLike[str],
    *,
    iter_chunk_size: int = 64,
    loop: Any = None,
    isolation_level: IsolationLevel = "",
    timeout: float = 5.0,
    detect_types: int = 0,
    check_same_thread: bool = False,
    factory: Any = None,
    cached_statements: int = 128,
    uri: bool = False,
    options: Mapping[str, Any] | None = None,
) -> Connection:
    """Return a :class:`Connection` to ``database``: ``await`` it, or ``async with`` it.

    ``isolation_level``, ``uri`` (``file:`` paths, ``mode=ro`` / ``mode=memory``) as
    ``sqlite3.connect``. ``options``: loopsafe's own options for the shared Database
    (those of ``loopsafe.open``: ``readers``, ``durability``, ``setup``, ...); connections
    with other options get another Database. ``timeout`` becomes the Database's
    ``busy_timeout`` unless ``options`` sets one. ``":memory:"`` is private to its
    Connection, as in ``sqlite3``.

    ``loop``, ``check_same_thread``, ``cached_statements`` and ``iter_chunk_size`` are
    accepted and not needed (a cursor holds its whole result). Raises
    ``NotSupportedError`` for ``detect_types`` and ``factory``, which can't be set per
    Connection on shared connections; when awaited, ``OperationalError`` if the file
    can't be opened.
    """
    if detect_types:
        raise NotSupportedError(
            "detect_types is not supported: connections are shared; convert values yourself"
        )
    if factory is not None:
        raise NotSupportedError("factory= is not supported: connections are shared")
    path, implied = _location(database, uri)
    chosen: dict[str, Any] = {"busy_timeout": timeout, **implied, **(options or {})}
    return Connection(
        path, isolation_level=isolation_level, iter_chunk_size=iter_chunk_size, options=chosen
    )
