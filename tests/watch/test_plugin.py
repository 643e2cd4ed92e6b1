"""The pytest plugin, run on small test files through pytester."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

# The hypothesis plugin alone takes half a second to start a session.
ARGS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "-o",
    "asyncio_mode=strict",
    "-o",
    "asyncio_default_fixture_loop_scope=function",
)

# Every stall here is either far over its budget or far under it, and every budget that
# must not be reached is far over what these machines can lag an idle loop by on their
# own (up to 40 ms).
MARKED = """
import asyncio
import sys
import time

import pytest

def blocks():
    time.sleep(0.4)  # the blocking line

def tracer(frame, event, arg):
    return None

@pytest.fixture
def debugger():
    sys.settrace(tracer)
    yield
    sys.settrace(None)

@pytest.mark.asyncio
@pytest.mark.loopsafe_watch(budget=0.2)
async def test_blocks():
    await asyncio.sleep(0.03)
    blocks()
    await asyncio.sleep(0.01)

@pytest.mark.asyncio
@pytest.mark.loopsafe_watch(budget=0.5)
async def test_awaits():
    for _ in range(10):
        await asyncio.sleep(0.01)

@pytest.mark.asyncio
@pytest.mark.loopsafe_watch(budget=0.2)
async def test_traced_while_blocking():
    await asyncio.sleep(0.03)
    sys.settrace(tracer)
    try:
        blocks()
        await asyncio.sleep(0.01)
    finally:
        sys.settrace(None)

@pytest.mark.asyncio
@pytest.mark.loopsafe_watch(budget=0.2)
async def test_debugger_attached_before(debugger):
    await asyncio.sleep(0.03)
    blocks()

@pytest.mark.asyncio
@pytest.mark.loopsafe_watch(budget=1.0)
async def test_fails_on_its_own():
    await asyncio.sleep(0.03)
    blocks()
    await asyncio.sleep(0.01)
    assert False, "its own failure"

@pytest.mark.asyncio
@pytest.mark.loopsafe_watch
async def test_default_budget():
    await asyncio.sleep(0.03)
    blocks()
"""

UNMARKED = """
import asyncio
import time

import pytest

@pytest.mark.asyncio
async def test_blocks():
    await asyncio.sleep(0.03)
    time.sleep(0.15)

def test_sync():
    time.sleep(0.15)
"""


def test_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=MARKED)
    reprec = pytester.inline_run(*ARGS, "--strict-markers")  # the marker is registered
    reports = {
        r.nodeid.rsplit("::", 1)[1]: r
        for r in reprec.getreports("pytest_runtest_logreport")
        if r.when == "call"
    }
    assert len(reports) == 6

    # Over budget: fails, showing the kind, the line with its source, grouped stacks.
    blocked = reports["test_blocks"]
    assert blocked.failed
    text = blocked.longreprtext
    source = (pytester.path / "test_inner.py").read_text().splitlines()
    line = next(i for i, s in enumerate(source, 1) if "# the blocking line" in s)
    assert "over the loopsafe budget of 200 ms" in text
    assert "blocking call on the loop" in text
    assert f"test_inner.py:{line} in blocks" in text
    assert "time.sleep(0.4)  # the blocking line" in text
    assert re.search(r"\d+x \(\d+%\):", text), text  # the stacks, grouped
    assert "in test_blocks" in text

    assert reports["test_awaits"].passed
    # Quiet under a debugger, attached during the test or before it.
    assert reports["test_traced_while_blocking"].passed
    assert reports["test_debugger_attached_before"].passed
    # A test failing on its own keeps its message; its stalls go to a report section.
    own = reports["test_fails_on_its_own"]
    assert own.failed
    assert "its own failure" in own.longreprtext
    assert "blocking call on the loop" in dict(own.sections)["Captured loopsafe call"]
    default = reports["test_default_budget"]
    assert default.failed  # 400 ms > the default 100 ms
    assert "over the loopsafe budget of 100 ms" in default.longreprtext


@pytest.mark.parametrize(
    ("args", "failed"),
    [
        ((), 0),
        (("--loopsafe-budget=0.03",), 0),
        (("--loopsafe-watch",), 1),  # the default budget, 0.1 s
        (("--loopsafe-watch", "--loopsafe-budget=1"), 0),
        (("--loopsafe-watch", "--loopsafe-budget=0.03"), 1),
    ],
)
def test_flag_watches_every_async_test(
    pytester: pytest.Pytester, args: tuple[str, ...], failed: int
) -> None:
    pytester.makepyfile(test_inner=UNMARKED)
    result = pytester.runpytest(*ARGS, *args)
    result.assert_outcomes(passed=2 - failed, failed=failed)
