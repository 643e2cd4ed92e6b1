"""Which lane a statement belongs to, decided once per distinct SQL text."""

from __future__ import annotations

import re
from enum import Enum

from loopsafe import errors


class Kind(Enum):
    READ = "read"  # any reader may run it
    WRITE = "write"  # the writer runs it inside a group-committed transaction
    ALONE = "alone"  # the writer runs it outside any transaction (VACUUM, PRAGMA, ATTACH)


_COMMENT = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?\*/)+", re.S)
_WORD = re.compile(r"[A-Za-z]+")
_WRITE_IN_CTE = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
_TRANSACTION_WORDS = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}
_ALONE_WORDS = {"VACUUM", "PRAGMA", "ATTACH", "DETACH", "ANALYZE", "REINDEX"}
_READ_WORDS = {"SELECT", "VALUES", "EXPLAIN"}

_cache: dict[str, Kind] = {}
_CACHE_LIMIT = 4096


def classify(sql: str) -> Kind:
    """Return the statement's kind; raise ``TransactionError`` for transaction control."""
    kind = _cache.get(sql)
    if kind is not None:
        return kind
    kind = _classify(sql)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()  # SQL built by string formatting must not grow memory without bound
    _cache[sql] = kind
    return kind


def _classify(sql: str) -> Kind:
    if not isinstance(sql, str):
        raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
    stripped = _COMMENT.sub("", sql, count=1)
    match = _WORD.match(stripped)
    word = match.group(0).upper() if match else ""
    if word in _TRANSACTION_WORDS:
        raise errors.TransactionError(
            f"{word} is managed by loopsafe: use `async with db.transaction():` instead", sql
        )
    if word in _READ_WORDS:
        return Kind.READ
    if word == "WITH":
        return Kind.WRITE if _WRITE_IN_CTE.search(stripped) else Kind.READ
    if word in _ALONE_WORDS:
        return Kind.ALONE
    return Kind.WRITE
