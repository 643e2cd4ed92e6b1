"""Which lane a statement belongs to, decided once per distinct SQL text.

A statement is judged by its leading keyword, and a ``WITH`` statement by the keyword of
the statement its common table expressions lead to: ``WITH t AS (...) SELECT ...`` is a
read whatever words its string literals, identifiers or function calls hold.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Final, NamedTuple

from loopsafe import errors


class Kind(Enum):
    READ = "read"  # any reader may run it
    WRITE = "write"  # the writer runs it inside a group-committed transaction
    ALONE = "alone"  # the writer runs it outside any transaction (VACUUM, PRAGMA, ATTACH)


# Module-level names for the hot paths (an Enum member lookup costs ~80 ns on Python 3.11).
READ: Final = Kind.READ
WRITE: Final = Kind.WRITE
ALONE: Final = Kind.ALONE


class _Judged(NamedTuple):
    kind: Kind
    inserts: bool  # an INSERT or REPLACE: its rowid is worth reporting


# Skipped between tokens: whitespace and comments.
_GAP = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))+", re.S)
# What the depth-0 scan of a WITH clause steps over in one piece.
_TOKEN = re.compile(
    r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?|[A-Za-z_][A-Za-z0-9_$]*|.""",
    re.S,
)
_TRANSACTION_WORDS = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}
_ALONE_WORDS = {"VACUUM", "PRAGMA", "ATTACH", "DETACH", "ANALYZE", "REINDEX"}
_READ_WORDS = {"SELECT", "VALUES", "EXPLAIN"}
_INSERT_WORDS = {"INSERT", "REPLACE"}
_MAIN_WORDS = {"SELECT", "VALUES", "INSERT", "REPLACE", "UPDATE", "DELETE"}

_cache: dict[str, _Judged] = {}
_CACHE_LIMIT = 4096


def statement_kind(sql: str) -> Kind:
    """Return the statement's kind; raise ``TransactionError`` for transaction control."""
    judged = _cache.get(sql)
    if judged is None:
        judged = _judge(sql)
    return judged.kind


def inserts_rows(sql: str) -> bool:
    """Whether the statement is an ``INSERT`` or ``REPLACE`` (also after ``WITH``)."""
    judged = _cache.get(sql)
    if judged is None:
        judged = _judge(sql)
    return judged.inserts


def _judge(sql: str) -> _Judged:
    judged = _classify(sql)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()  # SQL built by string formatting must not grow memory without bound
    _cache[sql] = judged
    return judged


def _classify(sql: str) -> _Judged:
    if not isinstance(sql, str):
        raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
    word = _leading_word(sql)
    if word in _TRANSACTION_WORDS:
        raise errors.TransactionError(
            f"{word} is managed by loopsafe: use `async with db.transaction():` instead", sql
        )
    if word == "WITH":
        word = _main_word_after_with(sql)
    if word in _READ_WORDS:
        return _Judged(Kind.READ, False)
    if word in _ALONE_WORDS:
        return _Judged(Kind.ALONE, False)
    return _Judged(Kind.WRITE, word in _INSERT_WORDS)


def _leading_word(sql: str) -> str:
    gap = _GAP.match(sql)
    start = gap.end() if gap else 0
    token = _TOKEN.match(sql, start)
    return token.group(0).upper() if token else ""


def _main_word_after_with(sql: str) -> str:
    # The common table expressions' bodies are in parentheses: the first main keyword found
    # outside all parentheses (literals and quoted names stepped over whole) starts the
    # statement they lead to. Unknown shapes count as writes: the writer runs anything.
    depth = 0
    pos = 0
    end = len(sql)
    while pos < end:
        gap = _GAP.match(sql, pos)
        if gap:
            pos = gap.end()
            if pos >= end:
                break
        token = _TOKEN.match(sql, pos)
        if token is None:  # never: the pattern matches any one character
            break
        text = token.group(0)
        pos = token.end()
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif depth == 0 and text.upper() in _MAIN_WORDS:
            return text.upper()
    return ""
