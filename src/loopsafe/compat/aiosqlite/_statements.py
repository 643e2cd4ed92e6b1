"""What a statement means to ``sqlite3``'s transaction handling, decided from its text.

``sqlite3`` (legacy transaction control, Python 3.11) opens a transaction implicitly before
``INSERT``, ``UPDATE``, ``DELETE`` and ``REPLACE`` (by their leading keyword, so a ``WITH
... INSERT`` does not) unless ``isolation_level`` is ``None``. The adapter does the same,
and turns ``BEGIN`` / ``COMMIT`` / ``ROLLBACK`` / ``SAVEPOINT`` / ``RELEASE`` sent as SQL
into calls on the connection's :class:`~loopsafe.TransactionHandle`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    BEGIN = "begin"
    COMMIT = "commit"
    ROLLBACK = "rollback"
    ROLLBACK_TO = "rollback_to"
    SAVEPOINT = "savepoint"
    RELEASE = "release"
    DML = "dml"  # opens the implicit transaction
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Statement:
    kind: Kind
    name: str = ""  # the savepoint's name (unquoted)
    immediate: bool = False  # BEGIN IMMEDIATE / EXCLUSIVE: take the writer now


_GAP = r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))"
_NAME = r"""("(?:[^"]|"")+"|\[[^\]]+\]|`(?:[^`]|``)+`|'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_$]*)"""
_END = rf"{_GAP}*;?{_GAP}*\Z"
_TX = rf"(?:{_GAP}+TRANSACTION(?:{_GAP}+{_NAME})?)?"


def _pattern(body: str) -> re.Pattern[str]:
    return re.compile(rf"\A{_GAP}*{body}{_END}", re.I | re.S)


_BEGIN = _pattern(rf"BEGIN(?:{_GAP}+(DEFERRED|IMMEDIATE|EXCLUSIVE))?{_TX}")
_COMMIT = _pattern(rf"(?:COMMIT|END){_TX}")
_ROLLBACK = _pattern(rf"ROLLBACK{_TX}(?:{_GAP}+TO(?:{_GAP}+SAVEPOINT)?{_GAP}+{_NAME})?")
_SAVEPOINT = _pattern(rf"SAVEPOINT{_GAP}+{_NAME}")
_RELEASE = _pattern(rf"RELEASE(?:{_GAP}+SAVEPOINT)?{_GAP}+{_NAME}")
_LEADING = re.compile(rf"\A{_GAP}*([A-Za-z]+)", re.S)
_DML = {"INSERT", "UPDATE", "DELETE", "REPLACE"}
_CONTROL = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}

_cache: dict[str, Statement] = {}
_CACHE_LIMIT = 4096


def unquote(name: str) -> str:
    """A name as SQLite reads it: quotes of any of its four kinds removed."""
    if len(name) >= 2 and name[0] in "\"'`" and name[-1] == name[0]:
        return name[1:-1].replace(name[0] * 2, name[0])
    if len(name) >= 2 and name[0] == "[" and name[-1] == "]":
        return name[1:-1]
    return name


def classify(sql: str) -> Statement:
    """What ``sql`` means for the connection's transaction (cached per text)."""
    statement = _cache.get(sql)
    if statement is None:
        statement = _classify(sql)
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()  # SQL built by string formatting must not grow memory without bound
        _cache[sql] = statement
    return statement


def _classify(sql: str) -> Statement:
    leading = _LEADING.match(sql)
    word = leading.group(1).upper() if leading else ""
    if word in _DML:
        return Statement(Kind.DML)
    if word not in _CONTROL:
        return Statement(Kind.OTHER)
    if match := _BEGIN.match(sql):
        mode = (match.group(1) or "").upper()
        return Statement(Kind.BEGIN, immediate=mode in ("IMMEDIATE", "EXCLUSIVE"))
    if _COMMIT.match(sql):
        return Statement(Kind.COMMIT)
    if match := _ROLLBACK.match(sql):
        if match.group(2):
            return Statement(Kind.ROLLBACK_TO, unquote(match.group(2)))
        return Statement(Kind.ROLLBACK)
    if match := _SAVEPOINT.match(sql):
        return Statement(Kind.SAVEPOINT, unquote(match.group(1)))
    if match := _RELEASE.match(sql):
        return Statement(Kind.RELEASE, unquote(match.group(1)))
    return Statement(Kind.OTHER)  # not well-formed: let SQLite say what is wrong
