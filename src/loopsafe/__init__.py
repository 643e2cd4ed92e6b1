"""loopsafe: SQLite for asyncio services that never blocks the event loop."""

from loopsafe.engine import Database, ExecuteResult, open
from loopsafe.errors import (
    Busy,
    CannotOpen,
    Closed,
    Corrupt,
    DiskFull,
    Error,
    IntegrityError,
    Interrupted,
    Overloaded,
    ParameterError,
    ReadOnly,
    SQLError,
    Timeout,
    TransactionError,
)

__version__ = "0.1.0"

__all__ = [
    "Busy",
    "CannotOpen",
    "Closed",
    "Corrupt",
    "Database",
    "DiskFull",
    "Error",
    "ExecuteResult",
    "IntegrityError",
    "Interrupted",
    "Overloaded",
    "ParameterError",
    "ReadOnly",
    "SQLError",
    "Timeout",
    "TransactionError",
    "open",
]
