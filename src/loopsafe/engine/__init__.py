"""The engine: SQLite for asyncio that never blocks the event loop."""

from loopsafe.engine._handle import TransactionHandle
from loopsafe.engine._request import ExecuteResult
from loopsafe.engine._result import Result
from loopsafe.engine._shared import acquire, release, release_nowait
from loopsafe.engine._stats import Stats
from loopsafe.engine.database import Database, open

__all__ = [
    "Database",
    "ExecuteResult",
    "Result",
    "Stats",
    "TransactionHandle",
    "acquire",
    "open",
    "release",
    "release_nowait",
]
