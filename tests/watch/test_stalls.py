"""Injected stalls of each kind are reported with the right class and line, every time.

A trial the machine disturbed (it took the CPU away for a while) and that came out
wrong is observed again; an undisturbed trial must come out right.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import pytest

from loopsafe.watch import LoopMonitor, StallKind, StallReport
from tests.watch.watch_stalls import (
    ATTEMPTS,
    LOOPS,
    CpuLoss,
    Stalls,
    checked,
    checked_async,
    marker_lines,
    observe,
    reports_after,
    run,
    run_trial,
    settle,
    shows,
    watched_threads,
)

TRIALS = 5


def expect(kind: StallKind, tag: str) -> Callable[[StallReport], None]:
    """A check: the report has ``kind`` and blames a line tagged ``tag``."""
    lines = marker_lines(tag)

    def check(report: StallReport) -> None:
        assert report.kind is kind, report.format()
        assert report.user_frame is not None, report.format()
        assert report.user_frame.filename.endswith("watch_stalls.py"), report.format()
        assert report.user_frame.lineno in lines, report.format()
        assert report.duration >= 0.02

    return check


def _unscheduled(reports: list[StallReport], lost: float) -> float:
    """``lost``, or infinity when a report says no thread of the process ran (by every
    thread's CPU clock): a thread that holds the GIL runs, so such a stall was the
    machine's. The host's steal counter, in 10 ms ticks, misses some of its pauses."""
    return math.inf if any(r.kind is StallKind.UNKNOWN for r in reports) else lost


def _trials(
    loop_kind: str,
    inject: Callable[[], object],
    tag: str,
    check: Callable[[StallReport], None],
    trials: int = TRIALS,
) -> list[StallReport]:
    """``trials`` injected stalls on a monitored loop, each found by its tagged line
    and checked."""

    async def main() -> list[StallReport]:
        async with LoopMonitor(0.02, log=False) as monitor:
            return [await observe(monitor, inject, tag, check) for _ in range(trials)]

    return run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_time_sleep_is_a_blocking_call(loop_kind: str, stalls: Stalls) -> None:
    blocking = expect(StallKind.BLOCKING, "sleep")

    def check(report: StallReport) -> None:
        blocking(report)
        assert report.loop_cpu is not None
        assert report.loop_cpu < 0.5, report.format()

    _trials(loop_kind, stalls.sleep, "sleep", check)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_sync_sqlite_query_is_a_blocking_call(loop_kind: str, stalls: Stalls) -> None:
    _trials(loop_kind, stalls.sqlite, "sqlite", expect(StallKind.BLOCKING, "sqlite"))


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_python_loop_is_cpu_bound(loop_kind: str, stalls: Stalls) -> None:
    _trials(loop_kind, stalls.cpu, "cpu", expect(StallKind.CPU, "cpu"))


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_gc_collect_is_a_gc_pause(loop_kind: str, stalls: Stalls) -> None:
    gc_pause = expect(StallKind.GC, "gc")

    def check(report: StallReport) -> None:
        gc_pause(report)
        assert report.gc is not None
        assert report.gc.generation == 2

    stalls.grow_heap()
    try:
        _trials(loop_kind, stalls.gc, "gc", check)
    finally:
        stalls.drop_heap()


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_thread_holding_the_gil_is_named_with_its_line(loop_kind: str, stalls: Stalls) -> None:
    gil = expect(StallKind.GIL, "gil")

    async def trial() -> tuple[list[StallReport], float]:
        async with LoopMonitor(0.02, log=False) as monitor:
            await settle()
            stop = stalls.start_gil_hog()
            loss = CpuLoss(watched_threads(monitor, "gil-hog"))
            try:
                await reports_after(monitor, 0, count=3, wait=5.0, quiet=0.0)
            finally:
                monitor.stop()  # while the hog still runs: every stall is its doing
                lost = loss.lost()
                stop.set()
            return monitor.reports, _unscheduled(monitor.reports, lost)

    def check(reports: list[StallReport]) -> None:
        assert len(reports) >= 3
        for report in reports:
            gil(report)
            assert report.gil_holder is not None
            assert report.gil_holder.name == "gil-hog", report.format()
            assert report.gil_holder.stacks, report.format()
            assert report.loop_cpu is not None
            assert report.loop_cpu < 0.2, report.format()

    # The hog itself needs a CPU: on a busy machine many trials lose theirs.
    run(loop_kind, lambda: checked_async(trial, check, attempts=3 * ATTEMPTS))


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_thread_that_held_the_gil_once_is_named(loop_kind: str, stalls: Stalls) -> None:
    # Its stack is caught where it let the GIL go only if the watchdog or the
    # heartbeat runs before it does; its name and CPU time are always right.
    def check(reports: list[StallReport]) -> None:
        # Other stalls may come in the same trial (a collection of this process's
        # garbage); none may blame another thread, or nobody.
        text = "\n\n".join(r.format() for r in reports)
        gil = [r for r in reports if r.kind is StallKind.GIL]
        assert gil, f"a C call holding the GIL for 120 ms was not reported as such:\n{text}"
        for report in gil:
            assert report.gil_holder is not None
            assert report.gil_holder.name == "gil-worker", report.format()
        assert all(r.kind is not StallKind.UNKNOWN for r in reports), text

    async def main() -> None:
        async with LoopMonitor(0.02, log=False) as monitor:

            async def trial() -> tuple[list[StallReport], float]:
                reports, lost = await run_trial(monitor, stalls.gil_once, ("gil-worker",))
                return reports, _unscheduled(reports, lost)

            for _ in range(TRIALS):
                await checked_async(trial, check)

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_threads_taking_turns_with_the_gil_starve_the_loop(loop_kind: str, stalls: Stalls) -> None:
    # One pure-Python thread gives the GIL back every switch interval (5 ms), which
    # lags the loop by about that much; several in turn stall it for tens of ms.
    async def trial() -> tuple[list[StallReport], float]:
        async with LoopMonitor(0.02, log=False) as monitor:
            await settle()
            loss = CpuLoss(watched_threads(monitor))
            release = await stalls.gil_threads()
            await settle(0.05)
            lost = loss.lost()
        release()
        return monitor.reports, _unscheduled(monitor.reports, lost)

    def check(reports: list[StallReport]) -> None:
        assert reports, "four spinning threads never stalled the loop"
        for report in reports:
            assert report.kind is StallKind.GIL, report.format()
            assert report.gil_holder is not None
            assert "spin-" in report.gil_holder.name, report.format()
        assert any(r.user_frame and r.user_frame.lineno in marker_lines("spin") for r in reports)

    for _ in range(2):
        run(loop_kind, lambda: checked_async(trial, check))


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_report_names_the_task(loop_kind: str, stalls: Stalls) -> None:
    async def handler() -> None:
        stalls.sleep()

    def check(report: StallReport) -> None:
        assert report.task is not None, report.format()
        assert "stalling-task" in report.task
        assert "handler" in report.task
        assert report.samples > 0
        assert report.stacks
        assert report.stacks[0].frames[-1].lineno in marker_lines("sleep")
        assert sum(g.count for g in report.stacks) == report.samples

    async def main() -> None:
        async with LoopMonitor(0.02, log=False) as monitor:
            await observe(
                monitor,
                lambda: asyncio.create_task(handler(), name="stalling-task"),
                "sleep",
                check,
            )

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_quiet_loop_has_lag_but_no_stalls(loop_kind: str) -> None:
    async def main() -> tuple[LoopMonitor, float]:
        async with LoopMonitor(0.2, 0.005, log=False) as monitor:
            loss = CpuLoss(watched_threads(monitor))
            for _ in range(50):
                await asyncio.sleep(0.002)
            return monitor, loss.lost()

    def check(monitor: LoopMonitor) -> None:
        snap = monitor.snapshot()
        assert snap.count >= 10
        assert snap.max < 0.2
        assert snap.over_threshold == 0
        assert 0 <= snap.p50 <= snap.p99 <= snap.max
        assert monitor.reports == []

    # Only a machine that took 0.1 s of CPU away could stall this loop for 0.2 s.
    checked(lambda: run(loop_kind, main), check, lost=0.1)


def test_stall_in_progress_at_stop_is_reported(stalls: Stalls) -> None:
    async def main() -> tuple[list[StallReport], float]:
        monitor = LoopMonitor(0.02, log=False).start()
        await settle()
        loss = CpuLoss(watched_threads(monitor))
        stalls.sleep()
        lost = loss.lost()
        monitor.stop()  # the heartbeat never ran after the stall
        return monitor.reports, lost

    def check(reports: list[StallReport]) -> None:
        slept = [r for r in reports if shows(r, "sleep")]
        assert [r.kind for r in slept] == [StallKind.BLOCKING], [r.format() for r in reports]
        assert slept[0].line is not None
        assert int(slept[0].line.rsplit(":", 1)[1]) in marker_lines("sleep")

    checked(lambda: run("asyncio", main), check)


def test_polling_fallback_without_a_kernel_timer(
    stalls: Stalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Off Linux there is no timerfd: the watchdog polls instead.
    monkeypatch.setattr("loopsafe.watch._monitor.Alarm.create", lambda delay: None)
    _trials("asyncio", stalls.sleep, "sleep", expect(StallKind.BLOCKING, "sleep"), trials=2)
    _trials("uvloop", stalls.cpu, "cpu", expect(StallKind.CPU, "cpu"), trials=2)


def test_time_the_loop_is_not_running_is_not_a_stall() -> None:
    gap = 0.3  # far longer than anything else that could lag this idle loop
    with asyncio.Runner() as runner:
        monitor = LoopMonitor(0.02, log=False)
        runner.run(_start(monitor))
        time.sleep(gap)  # between two run() calls the loop is stopped, not stalled
        runner.run(settle(0.05))
        monitor.stop()
    assert all(r.duration < gap for r in monitor.reports), [r.format() for r in monitor.reports]
    assert monitor.snapshot().max < gap


async def _start(monitor: LoopMonitor) -> None:
    monitor.start()
    await settle()
