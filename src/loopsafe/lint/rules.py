"""The rule catalogue: one code per kind of blocking call, direct or through helpers."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Category(enum.Enum):
    """What kind of work blocks the event loop; the value names it in messages."""

    SQLITE = "sqlite3 call"
    FILE = "file I/O call"
    SLEEP = "sleep"
    HTTP = "sync HTTP call"
    SUBPROCESS = "subprocess call"


@dataclass(frozen=True)
class Rule:
    """A lint rule: ``code`` is reported, ``fix`` is shown on the ``help:`` line."""

    code: str
    category: Category
    indirect: bool
    title: str
    fix: str


_FIXES: dict[Category, str] = {
    Category.SQLITE: (
        "use loopsafe: `db = await loopsafe.open(path)`, then `await db.fetchall(...)` / "
        "`await db.execute(...)`"
    ),
    Category.FILE: (
        "use anyio.Path / aiofiles, or run the I/O in a thread: `await asyncio.to_thread(...)`"
    ),
    Category.SLEEP: "use `await asyncio.sleep(...)`",
    Category.HTTP: "use an async client: `httpx.AsyncClient` or aiohttp",
    Category.SUBPROCESS: (
        "use `await asyncio.create_subprocess_exec(...)` and `await proc.communicate()`"
    ),
}

_NUMBERS: dict[Category, int] = {
    Category.SQLITE: 1,
    Category.FILE: 2,
    Category.SLEEP: 3,
    Category.HTTP: 4,
    Category.SUBPROCESS: 5,
}


def _make_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for category, number in _NUMBERS.items():
        for indirect in (False, True):
            how = "through helper functions" if indirect else "directly"
            rules.append(
                Rule(
                    code=f"LS{number}0{2 if indirect else 1}",
                    category=category,
                    indirect=indirect,
                    title=f"blocking {category.value} {how} in an async def",
                    fix=_FIXES[category],
                )
            )
    return tuple(rules)


RULES: tuple[Rule, ...] = _make_rules()
"""Every rule, in code order: LS101 sqlite3 ... LS502 subprocess through helpers."""

_BY_KEY = {(rule.category, rule.indirect): rule for rule in RULES}
CODES: frozenset[str] = frozenset(rule.code for rule in RULES)


def rule_for(category: Category, *, indirect: bool) -> Rule:
    """The rule for a blocking call of ``category``, direct or reached through helpers."""
    return _BY_KEY[category, indirect]


def code_matches(code: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """``True`` if ``code`` is one of ``patterns`` or starts with one (``LS1`` → LS101, LS102)."""
    return any(code.startswith(pattern) for pattern in patterns)
