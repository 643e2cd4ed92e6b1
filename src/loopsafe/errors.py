"""The one exception hierarchy of loopsafe.

Every error the library raises is a :class:`loopsafe.Error`. Errors say what
happened and, where there is one, what to do about it. Errors about a statement
carry the statement text but never its parameter values (they may be secrets).
"""

from __future__ import annotations

__all__ = [
    "AbortedError",
    "ArgumentError",
    "BusyError",
    "CannotOpenError",
    "ClosedError",
    "CorruptError",
    "DeadlineError",
    "DiskFullError",
    "DiskIOError",
    "Error",
    "FlagValueError",
    "IntegrityError",
    "InvalidKeyError",
    "JobCancelledError",
    "JobFailedError",
    "JobNotFoundError",
    "OverloadedError",
    "ParameterError",
    "PayloadError",
    "QueueError",
    "ReadOnlyError",
    "SQLError",
    "ScheduleError",
    "SchemaVersionError",
    "SerializationError",
    "ServerError",
    "SetupError",
    "StoreError",
    "TransactionError",
    "UnknownTaskError",
    "ValueTooLargeError",
    "ValueTypeError",
    "WrongLoopError",
]


class Error(Exception):
    """Base class of every loopsafe error."""


class ArgumentError(Error, ValueError):
    """An option of ``open()`` or an argument of a call has a value loopsafe can't use
    (a negative or infinite duration, an unknown ``lane``, ``chunk=0``, ...).

    Raised before anything runs. Also a ``ValueError``. Fix the value; the message names it.
    """


class SQLError(Error):
    """SQLite rejected a statement (syntax, missing table, bad value, ...).

    ``statement`` is the SQL text; parameter values are never included.
    ``code`` is SQLite's error name (``"SQLITE_ERROR"``, ...) when known.
    """

    def __init__(self, message: str, statement: str | None = None, code: str | None = None):
        super().__init__(message)
        self.statement = statement
        self.code = code

    def __str__(self) -> str:
        text = super().__str__()
        if self.statement is not None:
            shown = self.statement if len(self.statement) <= 200 else self.statement[:200] + "..."
            text = f"{text} (statement: {shown!r})"
        return text


class IntegrityError(SQLError):
    """A constraint failed (UNIQUE, NOT NULL, CHECK, FOREIGN KEY)."""


class ParameterError(SQLError):
    """The parameters do not fit the statement: wrong count, or a type SQLite can't store."""


class TransactionError(SQLError):
    """Transactions used wrongly, e.g. a ``BEGIN`` sent through ``execute``.

    Use ``async with db.transaction():`` instead of transaction statements.
    """


class BusyError(Error):
    """Another connection held the write lock for longer than the busy timeout."""


class ReadOnlyError(Error):
    """A write was attempted on a database (or connection) that only allows reads."""


class CannotOpenError(Error):
    """The database file could not be opened: missing directory, permissions, ..."""


class CorruptError(Error):
    """The file is not a SQLite database, or the database is damaged."""


class DiskIOError(Error):
    """The operating system reported an I/O error reading or writing the file (SQLITE_IOERR).

    The statement was rolled back. Check the disk and the file system; the
    Database stays usable once the cause is gone.
    """


class DiskFullError(Error):
    """The disk (or a size limit) is full; the write was rolled back."""


class OverloadedError(Error):
    """The lane refused the call at once, nothing ran: its queue is full, or a new call
    could not start within its ``queue_budget``.

    Retry later (HTTP services answer 503 with ``Retry-After``), or pass
    ``wait=True`` to queue for a free slot up to the call's timeout.
    """


class DeadlineError(Error, TimeoutError):
    """The call's deadline passed. Its statement was stopped and rolled back."""


class AbortedError(Error):
    """The statement was stopped because its caller went away (cancelled or closed)."""


class WrongLoopError(Error):
    """The Database was used from an event loop other than the one that opened it.

    Nothing was queued. A Database's threads answer on the loop that opened it: open one
    Database per event loop (per thread running a loop).
    """


class SetupError(Error):
    """The ``setup`` function given to ``open()`` raised on one of the Database's
    connections, so the Database was not opened: every connection it had opened was
    closed and its threads have exited. The function's exception is the ``__cause__``.

    Fix the function (it runs on the writer and on every reader, whose connections are
    ``query_only``).
    """


class ClosedError(Error):
    """The Database is closed (or closing) and takes no more calls."""


# -- stores ---------------------------------------------------------------------------------


class StoreError(Error):
    """A store (Cache, Flags, Queue) was used wrongly: not opened yet, bad arguments, ..."""


class ServerError(Error):
    """The database server behind a store (PostgreSQL) failed the call or dropped the
    connection: a restart, a network cut, a server-side error. The call's transaction was
    rolled back by the server.

    Retry later; the store reconnects by itself, and its background work (sweeps, flag
    refreshes) keeps retrying.
    """


class SchemaVersionError(StoreError):
    """The store's file has a newer schema than this loopsafe knows; nothing was written.

    Upgrade loopsafe, or open another file.
    """


# -- stores: cache ---------------------------------------------------------------------------


class ValueTooLargeError(StoreError, ValueError):
    """A cache value is larger than the cache's ``max_value_size``; nothing was written and
    the key's previous value (if any) is still in place.

    Store smaller values, or open the cache with a larger ``max_value_size``.
    """


class SerializationError(StoreError, ValueError):
    """A value could not be serialized for the cache (or a stored value decoded); nothing
    was written.

    The default serializer takes ``bytes``, ``str`` and JSON values. Pass another
    ``serializer=`` for other types (``PickleSerializer`` only for data you trust).
    """


class InvalidKeyError(StoreError, ValueError):
    """A cache key is not a non-empty ``str`` (or a ``cached`` function's arguments can't
    form one: pass ``key=`` to the decorator)."""


class ValueTypeError(StoreError, TypeError):
    """The stored value has the wrong type for the operation (``incr`` on a non-integer);
    nothing was changed."""


# -- stores: flags ---------------------------------------------------------------------------


class FlagValueError(StoreError, ValueError):
    """A flag change was refused: a bad name, a percentage outside 0-100, actors or groups
    that are not strings. Nothing was changed."""


# -- stores: queue ---------------------------------------------------------------------------


class QueueError(StoreError):
    """A job queue was used wrongly, or a job did not end as its caller hoped."""


class UnknownTaskError(QueueError, LookupError):
    """No task of that name is registered on the queue; nothing was enqueued.

    Register it with ``@queue.task`` in every process that enqueues or runs it.
    """


class PayloadError(QueueError, ValueError):
    """A job's arguments (or a task's result) are not JSON, or are larger than the limit.

    Nothing was written: the job was not enqueued (or its outcome was recorded as a failure).
    """


class ScheduleError(QueueError, ValueError):
    """A ``run_at`` / ``delay`` too far ahead, or a cron expression that can't be parsed."""


class JobFailedError(QueueError):
    """The awaited job is ``dead``: it failed ``max_attempts`` times. ``error`` holds its last
    error; ``queue.retry(job_id)`` runs it again."""

    def __init__(self, message: str, job_id: int, error: str | None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.error = error


class JobCancelledError(QueueError):
    """The awaited job was cancelled (before it ran, or it stopped when asked to)."""

    def __init__(self, message: str, job_id: int) -> None:
        super().__init__(message)
        self.job_id = job_id


class JobNotFoundError(QueueError, LookupError):
    """No job has that id (it never existed, or it finished and was pruned)."""
