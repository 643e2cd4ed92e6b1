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
    IntegrityError,
    OverloadedError,
    ParameterError,
    ReadOnlyError,
    SQLError,
    TransactionError,
    WrongLoopError,
)

__version__ = "0.1.0"

__all__ = [
    "AbortedError",
    "ArgumentError",
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
    "OverloadedError",
    "ParameterError",
    "ReadOnlyError",
    "SQLError",
    "Stats",
    "TransactionError",
    "WrongLoopError",
]
