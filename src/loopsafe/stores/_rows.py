"""Rows as tuples, whatever row shape the Database was opened with.

A store may be given a caller's Database opened with ``rows="dict"`` or ``rows="row"``;
the store's SQL reads columns by position, so each row is turned back into a tuple.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from loopsafe.engine import Database
from loopsafe.errors import StoreError

__all__ = ["as_tuple", "check_rows"]


def check_rows(db: Database) -> None:
    """Raise :class:`~loopsafe.StoreError` for a Database whose rows a store can't read
    (a custom row factory)."""
    if callable(db.options.rows):
        raise StoreError(
            "a store needs a Database opened with rows='tuple', 'dict' or 'row', "
            "not a custom row factory"
        )


def as_tuple(row: Any) -> tuple[Any, ...]:
    if type(row) is tuple:
        return row
    if isinstance(row, dict):
        return tuple(row.values())
    if isinstance(row, sqlite3.Row):
        return tuple(row)
    return tuple(row)
