"""loopsafe: SQLite for asyncio services that never blocks the event loop.

Open a Database with ``loopsafe.open(path)`` (not in ``__all__``: it would shadow the
builtin ``open`` under ``from loopsafe import *``).
"""

from loopsafe.engine import Database, ExecuteResult, Stats
from loopsafe.engine import open as open
from loopsafe.errors import (
    AbortedError,
    ArgumentError,
    BusyError,
    CannotOpenError,
    ClosedError,
    CorruptError,
    DeadlineError,
    DiskFullError,
    DiskIOError,
    Error,
    FlagValueError,
    IntegrityError,
    InvalidKeyError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    OverloadedError,
    ParameterError,
    PayloadError,
    QueueError,
    ReadOnlyError,
    ScheduleError,
    SchemaVersionError,
    SerializationError,
    SQLError,
    StoreError,
    TransactionError,
    UnknownTaskError,
    ValueTooLargeError,
    ValueTypeError,
    WrongLoopError,
)
from loopsafe.stores import Cache, Flags, Queue

__version__ = "0.1.0"

__all__ = [
    "AbortedError",
    "ArgumentError",
    "BusyError",
    "Cache",
    "CannotOpenError",
    "ClosedError",
    "CorruptError",
    "Database",
    "DeadlineError",
    "DiskFullError",
    "DiskIOError",
    "Error",
    "ExecuteResult",
    "FlagValueError",
    "Flags",
    "IntegrityError",
    "InvalidKeyError",
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
    "SchemaVersionError",
    "SerializationError",
    "Stats",
    "StoreError",
    "TransactionError",
    "UnknownTaskError",
    "ValueTooLargeError",
    "ValueTypeError",
    "WrongLoopError",
]
