"""The engine: SQLite for asyncio that never blocks the event loop."""

from loopsafe.engine.database import Database, ExecuteResult, open

__all__ = ["Database", "ExecuteResult", "open"]
