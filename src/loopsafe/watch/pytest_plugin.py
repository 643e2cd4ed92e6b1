"""pytest plugin: fail a test whose event loop was blocked (opt-in).

Enable it for every async test with ``--loopsafe-watch`` (budget from
``--loopsafe-budget``, default 0.1 s), or for one test with a marker::

    @pytest.mark.loopsafe_watch(budget=0.05)
    async def test_handler() -> None: ...

A watched test fails when one stall of its event loop is longer than the budget;
the failure shows each such stall's kind, blamed line and grouped stacks. Stalls
below the budget but above the monitor threshold appear in a report section. It
watches the loop the test body runs on (pytest-asyncio, or anyio's asyncio
backend) and stays quiet while a debugger (pdb, an IDE) is active.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from loopsafe.watch.report import StallReport

DEFAULT_BUDGET = 0.1
THRESHOLD = 0.02
"""Stalls from this long on are recorded (or the budget, if smaller)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("loopsafe", "loopsafe: event-loop stall watch")
    group.addoption(
        "--loopsafe-watch",
        action="store_true",
        default=False,
        help="fail async tests whose event loop is blocked longer than the budget",
    )
    group.addoption(
        "--loopsafe-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"longest allowed event-loop stall (default {DEFAULT_BUDGET})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "loopsafe_watch(budget=0.1): fail this async test if its event loop is blocked "
        "longer than budget seconds (loopsafe)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    budget = _budget_for(item)
    if budget is None or not isinstance(item, pytest.Function):
        return (yield)
    if not inspect.iscoroutinefunction(item.obj):
        if item.get_closest_marker("loopsafe_watch") is not None:
            item.warn(pytest.PytestWarning("loopsafe_watch only watches async tests"))
        return (yield)
    watch = _Watch(budget)
    original = item.obj
    item.obj = watch.wrap(original)
    try:
        result = yield
    except BaseException:
        watch.add_section(item)
        raise
    finally:
        item.obj = original
    watch.check()  # the failure message shows the stalls over budget
    watch.add_section(item)
    return result


def _budget_for(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("loopsafe_watch")
    option: float | None = item.config.getoption("loopsafe_budget")
    if marker is not None:
        value = marker.kwargs.get("budget", marker.args[0] if marker.args else None)
        return float(value) if value is not None else (option or DEFAULT_BUDGET)
    if item.config.getoption("loopsafe_watch"):
        return option or DEFAULT_BUDGET
    return None


def debugger_active() -> bool:
    """Whether a debugger traces this thread (coverage's tracer does not count)."""
    tracer = sys.gettrace()
    if tracer is not None and not type(tracer).__module__.startswith("coverage"):
        return True
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+
    return monitoring is not None and monitoring.get_tool(monitoring.DEBUGGER_ID) is not None


class _Watch:
    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.threshold = min(THRESHOLD, budget)
        self.reports: list[StallReport] = []
        self.quiet = False

    def wrap(
        self, test: Callable[..., Coroutine[Any, Any, object]]
    ) -> Callable[..., Coroutine[Any, Any, object]]:
        @functools.wraps(test)
        async def watched(*args: object, **kwargs: object) -> object:
            from loopsafe.watch import LoopMonitor

            if debugger_active():
                self.quiet = True
                return await test(*args, **kwargs)
            try:
                monitor = LoopMonitor(self.threshold, name="test", log=False).start()
            except RuntimeError:  # not an asyncio loop (trio): nothing to watch
                return await test(*args, **kwargs)
            try:
                return await test(*args, **kwargs)
            finally:
                monitor.stop()
                self.reports = monitor.reports
                self.quiet = self.quiet or debugger_active()

        return watched

    def _counted(self) -> list[StallReport]:
        if self.quiet:
            return []
        return [r for r in self.reports if not r.under_debugger]

    def over_budget(self) -> list[StallReport]:
        return [r for r in self._counted() if r.duration > self.budget]

    def add_section(self, item: pytest.Item) -> None:
        reports = self._counted()
        if reports:
            text = "\n\n".join(r.format() for r in reports)
            item.add_report_section("call", "loopsafe", text)

    def check(self) -> None:
        over = self.over_budget()
        if not over:
            return
        worst = max(r.duration for r in over)
        head = (
            f"event loop blocked for {worst * 1000:.0f} ms, over the loopsafe budget of "
            f"{self.budget * 1000:.0f} ms ({len(over)} stall{'s' if len(over) > 1 else ''}):"
        )
        pytest.fail("\n\n".join([head, *(r.format() for r in over)]), pytrace=False)
