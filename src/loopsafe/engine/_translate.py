"""Turn ``sqlite3`` exceptions into loopsafe's hierarchy (statement kept, parameters never)."""

from __future__ import annotations

import sqlite3

from loopsafe import errors

_BY_CODE: dict[str, type[errors.Error]] = {
    "SQLITE_BUSY": errors.BusyError,
    "SQLITE_LOCKED": errors.BusyError,
    "SQLITE_READONLY": errors.ReadOnlyError,
    "SQLITE_FULL": errors.DiskFullError,
    "SQLITE_CANTOPEN": errors.CannotOpenError,
    "SQLITE_CORRUPT": errors.CorruptError,
    "SQLITE_IOERR": errors.DiskIOError,
    "SQLITE_NOTADB": errors.CorruptError,
    "SQLITE_RANGE": errors.ParameterError,
    "SQLITE_MISMATCH": errors.SQLError,
    "SQLITE_TOOBIG": errors.ParameterError,
}

_HINTS: dict[type[errors.Error], str] = {
    errors.BusyError: "another connection held the write lock past the busy timeout; retry later",
    errors.ReadOnlyError: "the database or this connection only allows reads",
    errors.DiskFullError: "the disk is full; the write was rolled back",
    errors.CorruptError: "the file is not a SQLite database or is damaged",
    errors.CannotOpenError: "check the path exists and is writable",
    errors.DiskIOError: "the operating system reported an I/O error; the statement was rolled back",
}


def translate(exc: BaseException, statement: str | None) -> BaseException:
    """Map ``exc`` to a loopsafe error; anything that is not a database error is returned as is."""
    if isinstance(exc, errors.Error):
        return exc
    if isinstance(exc, OverflowError | UnicodeEncodeError):
        return errors.ParameterError(f"a parameter can't be stored in SQLite: {exc}", statement)
    if not isinstance(exc, sqlite3.Error):
        return exc
    code = getattr(exc, "sqlite_errorname", None)
    message = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return _with_cause(errors.IntegrityError(message, statement, code), exc)
    if isinstance(exc, sqlite3.InterfaceError | sqlite3.ProgrammingError) and _is_parameter_problem(
        message
    ):
        return _with_cause(errors.ParameterError(message, statement, code), exc)
    # sqlite_errorname is the extended code (SQLITE_BUSY_RECOVERY, SQLITE_IOERR_...):
    # classify by the primary one.
    primary = "_".join((code or "").split("_")[:2])
    cls = _BY_CODE.get(primary)
    if cls is None and "readonly" in message:
        cls = errors.ReadOnlyError
    if cls is None and "directory does not exist" in message:
        cls = errors.CannotOpenError
    if cls is None or issubclass(cls, errors.SQLError):
        return _with_cause((cls or errors.SQLError)(message, statement, code), exc)
    hint = _HINTS.get(cls)
    return _with_cause(cls(f"{message} ({hint})" if hint else message), exc)


def _is_parameter_problem(message: str) -> bool:
    lowered = message.lower()
    return "binding" in lowered or "parameter" in lowered or "not supported" in lowered


def _with_cause(new: errors.Error, cause: BaseException) -> errors.Error:
    new.__cause__ = cause
    return new
