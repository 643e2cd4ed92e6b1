"""The engine: SQLite for asyncio that never blocks the event loop."""

from loopsafe.engine._inline import InlineStats
from loopsafe.engine._request import ExecuteResult
from loopsafe.engine._stats import Stats
from loopsafe.engine.database import Database, open

__all__ = ["Database", "ExecuteResult", "InlineStats", "Stats", "open"]
