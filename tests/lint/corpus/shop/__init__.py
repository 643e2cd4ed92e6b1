"""A small shop backend on sqlite3; the package re-exports one helper."""

from shop.db import query as run_query

__all__ = ["run_query"]
