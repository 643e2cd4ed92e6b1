"""loopsafe: SQLite for asyncio services that never blocks the event loop.

Open a Database with ``loopsafe.open(path)`` (not in ``__all__``: it would shadow the
builtin ``open`` under ``from loopsafe import *``).
"""

from loopsafe.engine import Database, ExecuteResult
from loopsafe.engine import open as open
from loopsafe.errors import (
    AbortedError,
    BusyError,
    CannotOpenError,
    ClosedError,
    CorruptError,
    DeadlineError,
    DiskFullError,
    DiskIOError,
    Error,
    IntegrityError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    OverloadedError,
    ParameterError,
    PayloadError,
    QueueError,
    ReadOnlyError,
    ScheduleError,
    SQLError,
    TransactionError,
    UnknownTaskError,
)
from loopsafe.stores import Queue

__version__ = "0.1.0"

__all__ = [
    "AbortedError",
    "BusyError",
    "CannotOpenError",
    "ClosedError",
    "CorruptError",
    "Database",
    "DeadlineError",
    "DiskFullError",
    "DiskIOError",
    "Error",
    "ExecuteResult",
    "IntegrityError",
    "JobCancelledError",
    "JobFailedError",
    "JobNotFoundError",
    "OverloadedError",
    "ParameterError",
    "PayloadError",
    "Queue",
    "QueueError",
    "ReadOnlyError",
    "SQLError",
    "ScheduleError",
    "TransactionError",
    "UnknownTaskError",
]
