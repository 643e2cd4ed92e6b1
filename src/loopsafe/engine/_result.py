"""What ``Database.query`` (and a handle's ``query``) returns: rows and counts in one hop."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# sqlite3's own shape of a description: seven items per column, only the name filled in.
Description = tuple[tuple[str, None, None, None, None, None, None], ...]


@dataclass(frozen=True, slots=True)
class Result:
    """The whole outcome of one statement.

    ``rows``: every row it returned (``[]`` for a statement without a result; the rows of
    ``INSERT ... RETURNING`` too). ``description``: ``cursor.description`` as ``sqlite3``
    gives it (a 7-tuple per column, only the name set), ``None`` for a statement that
    returns no columns. ``rowcount``: rows inserted, updated or deleted (also with
    ``RETURNING``), ``-1`` for a ``SELECT``. ``lastrowid``: the rowid of the row an
    ``INSERT``/``REPLACE`` inserted, ``None`` when it inserted nothing and for every other
    statement (never a rowid some earlier statement left on the connection).
    """

    rows: list[Any]
    description: Description | None
    rowcount: int
    lastrowid: int | None


@dataclass(frozen=True, slots=True)
class RowShape:
    """How one call's rows come out, set on its cursor on the thread that fetches them.

    ``row_factory``: as ``sqlite3.Cursor.row_factory`` (``None``: the Database's ``rows``).
    ``text_factory``: as ``sqlite3.Connection.text_factory`` (``str`` by default), for
    this call only.
    """

    row_factory: Callable[[sqlite3.Cursor, tuple[Any, ...]], Any] | None = None
    text_factory: Callable[[bytes], Any] = str
