"""loopsafe's errors as the DB-API (``sqlite3``) exceptions aiosqlite users catch.

An error SQLite raised comes back as the very ``sqlite3`` class it was, with its message
and ``sqlite_errorcode`` / ``sqlite_errorname``. An error of loopsafe's own (a deadline,
a full queue, a closed Database) maps to the DB-API class that says what the caller can
do, as listed in ``MAPPING``; the loopsafe error is kept as ``__cause__``.
"""

from __future__ import annotations

import sqlite3

from loopsafe import errors

# loopsafe's own errors, most specific first: what sqlite3 code expects to catch.
MAPPING: tuple[tuple[type[errors.Error], type[sqlite3.Error], str], ...] = (
    (errors.CannotOpenError, sqlite3.OperationalError, "unable to open database file"),
    (errors.IntegrityError, sqlite3.IntegrityError, ""),
    (errors.ParameterError, sqlite3.ProgrammingError, ""),
    (errors.TransactionError, sqlite3.OperationalError, ""),
    (errors.SQLError, sqlite3.OperationalError, ""),
    (errors.BusyError, sqlite3.OperationalError, "database is locked"),
    (errors.ReadOnlyError, sqlite3.OperationalError, "attempt to write a readonly database"),
    (errors.DiskFullError, sqlite3.OperationalError, "database or disk is full"),
    (errors.DiskIOError, sqlite3.OperationalError, "disk I/O error"),
    (errors.CorruptError, sqlite3.DatabaseError, "database disk image is malformed"),
    (errors.DeadlineError, sqlite3.OperationalError, "interrupted"),
    (errors.AbortedError, sqlite3.OperationalError, "interrupted"),
    (errors.OverloadedError, sqlite3.OperationalError, "database is overloaded"),
    (errors.ClosedError, sqlite3.ProgrammingError, "Cannot operate on a closed database."),
    (errors.WrongLoopError, sqlite3.ProgrammingError, ""),
    (errors.ArgumentError, sqlite3.ProgrammingError, ""),
    (errors.SetupError, sqlite3.OperationalError, ""),
    (errors.Error, sqlite3.DatabaseError, ""),
)


class ClosedConnectionError(sqlite3.ProgrammingError, ValueError):
    """A call on a Connection that is closed (or was never opened).

    Both a ``sqlite3.ProgrammingError`` (what ``sqlite3`` raises) and a ``ValueError``
    (what aiosqlite raises), so code written for either catches it.
    """


def to_dbapi(exc: errors.Error) -> sqlite3.Error:
    """The ``sqlite3`` exception to raise for ``exc`` (raise it ``from exc``)."""
    cause = exc.__cause__
    if isinstance(cause, sqlite3.Error) and not isinstance(exc, errors.CannotOpenError):
        again = type(cause)(*cause.args)
        for name in ("sqlite_errorcode", "sqlite_errorname"):
            if hasattr(cause, name):
                setattr(again, name, getattr(cause, name))
        return again
    for cls, dbapi, prefix in MAPPING:
        if isinstance(exc, cls):
            text = str(exc)
            return dbapi(f"{prefix}: {text}" if prefix and text else (prefix or text))
    raise AssertionError("MAPPING ends with errors.Error")  # pragma: no cover
