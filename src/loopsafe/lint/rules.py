"""The rule catalogue: one code per kind of blocking call, direct or through helpers, and
the two asyncio rules (loop-only calls from thread-side code, ``get_event_loop()`` in a
coroutine)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Category(enum.Enum):
    """What kind of call a rule is about; the value names it in messages.

    The first five block the event loop; ``LOOP_ONLY`` calls are safe on the loop's thread
    and undefined behaviour from any other; ``GET_EVENT_LOOP`` is the call that
    ``get_running_loop()`` replaces in coroutines. ``RUNS_LOOP`` has no rule: a thread
    that runs a loop of its own may make that loop's loop-only calls.
    """

    SQLITE = "sqlite3 call"
    FILE = "file I/O call"
    SLEEP = "sleep"
    HTTP = "sync HTTP call"
    SUBPROCESS = "subprocess call"
    LOOP_ONLY = "asyncio call that is not thread-safe"
    GET_EVENT_LOOP = "asyncio.get_event_loop()"
    RUNS_LOOP = "call that runs an event loop"

    @property
    def blocks(self) -> bool:
        """Whether calls of this kind block the event loop (the LS1xx-LS5xx rules)."""
        return self in _NUMBERS


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


_LOOP_ONLY_FIX = (
    "from a worker thread, reach the loop only through its thread-safe entry points: "
    "`loop.call_soon_threadsafe(fn, *args)` (also for `fut.set_result`, `event.set`, "
    "`queue.put_nowait`) or `asyncio.run_coroutine_threadsafe(coro, loop)`"
)
_GET_EVENT_LOOP_FIX = "use `asyncio.get_running_loop()`"


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
    for indirect in (False, True):
        how = "through helper functions" if indirect else "directly"
        rules.append(
            Rule(
                code=f"LS60{2 if indirect else 1}",
                category=Category.LOOP_ONLY,
                indirect=indirect,
                title=f"asyncio call that is not thread-safe, {how} in code run in a thread",
                fix=_LOOP_ONLY_FIX,
            )
        )
    rules.append(
        Rule(
            code="LS701",
            category=Category.GET_EVENT_LOOP,
            indirect=False,
            title="asyncio.get_event_loop() in an async def",
            fix=_GET_EVENT_LOOP_FIX,
        )
    )
    return tuple(rules)


RULES: tuple[Rule, ...] = _make_rules()
"""Every rule, in code order: LS101 sqlite3 ... LS502 subprocess through helpers, LS601 /
LS602 loop-only asyncio calls in thread-side code, LS701 ``get_event_loop()``."""

_BY_KEY = {(rule.category, rule.indirect): rule for rule in RULES}
CODES: frozenset[str] = frozenset(rule.code for rule in RULES)


def rule_for(category: Category, *, indirect: bool) -> Rule:
    """The rule for a call of ``category``, direct or reached through helpers.

    Raises ``KeyError`` for ``GET_EVENT_LOOP`` with ``indirect=True`` (no such rule).
    """
    return _BY_KEY[category, indirect]


def code_matches(code: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """``True`` if ``code`` is one of ``patterns`` or starts with one (``LS1`` → LS101, LS102)."""
    return any(code.startswith(pattern) for pattern in patterns)
