"""Which sync functions block, transitively, and the shortest chain of calls that shows it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from loopsafe.lint._index import FunctionInfo
from loopsafe.lint._values import Event, Facts
from loopsafe.lint.findings import Hop
from loopsafe.lint.rules import Category

Chain = tuple[Hop, ...]
Summary = dict[Category, Chain]


def hop(function: FunctionInfo, event: Event) -> Hop:
    """The step "``function``, at the line of ``event``"."""
    return Hop(function.qualname, str(function.module.path), event.line)


def summarize(
    functions: Iterable[FunctionInfo],
    facts: Callable[[FunctionInfo], Facts],
    *,
    allowed: Callable[[str], bool],
    max_depth: int,
) -> dict[FunctionInfo, Summary]:
    """For each sync function, each kind of call it reaches and the shortest chain.

    A chain holds at most ``max_depth`` functions before the blocking call. Each round
    extends chains by one call, from the previous round's results only, so cycles
    (mutual recursion) cannot loop and every chain is a shortest one.
    """
    sync = [function for function in functions if not function.is_async]
    # A function that runs an event loop in its own thread is that loop's thread: the
    # loop-only calls it reaches are on its own loop.
    owners = {function for function in sync if _runs_a_loop(facts(function))}
    summaries: dict[FunctionInfo, Summary] = {}
    for function in sync:
        summary: Summary = {}
        for event in facts(function).events:
            category = event.category
            if category is None or event.handed:  # a handed callable runs in a thread
                continue
            if not _kept(function, category, owners):
                continue
            if category not in summary and not allowed(event.name):
                summary[category] = (hop(function, event), Hop(event.name))
        summaries[function] = summary
    for _ in range(max_depth - 1):
        extended = {function: dict(summary) for function, summary in summaries.items()}
        for function in sync:
            for event in facts(function).events:
                callee = event.callee
                if callee is None or callee.is_async or allowed(callee.qualname):
                    continue
                for category, chain in summaries.get(callee, {}).items():
                    if not _kept(function, category, owners):
                        continue
                    best = extended[function].get(category)
                    if best is None or len(chain) + 1 < len(best):
                        extended[function][category] = (hop(function, event), *chain)
        if extended == summaries:
            break
        summaries = extended
    return summaries


def _runs_a_loop(facts: Facts) -> bool:
    return any(event.category is Category.RUNS_LOOP for event in facts.events)


def _kept(function: FunctionInfo, category: Category, owners: set[FunctionInfo]) -> bool:
    """Whether ``function``'s summary records ``category``: running a loop is not passed
    on to callers, and a loop's own thread may make loop-only calls."""
    if category is Category.RUNS_LOOP:
        return False
    return category is not Category.LOOP_ONLY or function not in owners
