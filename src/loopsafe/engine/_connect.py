"""Opening and configuring the connections; each runs on the thread that owns it."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from loopsafe import errors
from loopsafe.engine._options import Options


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


def _target(options: Options) -> tuple[str, bool]:
    if options.memory:
        # Only the writer opens a ":memory:" Database (no readers, no fast path), so a
        # private in-memory database is all it needs. Not the memdb VFS: ATTACH uses the
        # main database's VFS, which would put every attached file in memory too.
        return ":memory:", False
    path = os.fspath(options.path)
    if options.readonly:
        return f"file:{_quote(path)}?mode=ro", True
    return path, False


def _quote(path: str) -> str:
    return path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def connect(options: Options, *, writer: bool) -> sqlite3.Connection:
    """Open one connection configured for its role, then run ``open(setup=...)`` on it.

    Every connection a Database opens comes from here (the writer, each reader), so the
    setup function sees them all. Raises ``sqlite3.Error``; ``SetupError`` when the setup
    function raises (the connection is closed).
    """
    target, uri = _target(options)
    if not options.memory and not options.readonly:
        directory = os.path.dirname(os.path.abspath(os.fspath(options.path)))
        if not os.path.isdir(directory):
            # SQLite would only say "unable to open database file".
            raise sqlite3.OperationalError(f"directory does not exist: {directory}")
    conn = sqlite3.connect(
        target,
        uri=uri,
        timeout=options.busy_timeout,
        isolation_level=None,  # we issue BEGIN / COMMIT ourselves
        check_same_thread=False,  # the loop thread may call interrupt()
        cached_statements=512,
    )
    try:
        _configure(conn, options, writer=writer)
    except BaseException:
        conn.close()
        raise
    if options.rows == "dict":
        conn.row_factory = _dict_row
    elif options.rows == "row":
        conn.row_factory = sqlite3.Row
    elif callable(options.rows):
        conn.row_factory = options.rows
    if options.setup is not None:
        try:
            options.setup(conn)
        except BaseException as exc:
            conn.close()
            if not isinstance(exc, Exception):
                raise
            role = "the writer" if writer else "a reader"
            raise errors.SetupError(
                f"open(setup=...) raised on {role}'s connection: {type(exc).__name__}: {exc}"
            ) from exc
    return conn


def _configure(conn: sqlite3.Connection, options: Options, *, writer: bool) -> None:
    execute = conn.execute
    # Reading the schema first turns "not a database" into an error here, at open.
    execute("SELECT count(*) FROM sqlite_master").fetchone()
    execute(f"PRAGMA busy_timeout = {int(options.busy_timeout * 1000)}")
    execute("PRAGMA temp_store = MEMORY")
    execute(f"PRAGMA cache_size = -{int(options.cache_size_kib)}")
    if not options.memory:
        execute(f"PRAGMA mmap_size = {int(options.mmap_size)}")
    if writer:
        if not options.memory:
            mode = execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"could not switch the database to WAL (got {mode})")
            execute(f"PRAGMA journal_size_limit = {int(options.journal_size_limit)}")
        execute(f"PRAGMA synchronous = {'FULL' if options.durability == 'full' else 'NORMAL'}")
        execute("PRAGMA foreign_keys = ON")
    else:
        execute("PRAGMA query_only = ON")
