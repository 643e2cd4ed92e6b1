"""Injected stalls of each kind are reported with the right class and line, every time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from loopsafe.watch import LoopMonitor, StallKind, StallReport
from tests.watch.watch_stalls import (
    LOOPS,
    Stalls,
    main_report,
    marker_lines,
    reports_after,
    run,
    settle,
)

TRIALS = 5
MAX_RETRIES = 2


def _trials(
    loop_kind: str, inject: Callable[[], object], trials: int = TRIALS
) -> list[StallReport]:
    """Run ``trials`` stalls on a monitored loop; the main report of each."""

    async def main() -> list[StallReport]:
        found: list[StallReport] = []
        retries = 0
        async with LoopMonitor(0.02, log=False) as monitor:
            while len(found) < trials:
                await settle()
                before = len(monitor.reports)
                result = inject()
                if hasattr(result, "__await__"):
                    await result
                report = main_report(await reports_after(monitor, before))
                if _unscheduled(report) and retries < MAX_RETRIES:
                    retries += 1
                    continue
                found.append(report)
        return found

    return run(loop_kind, main)


def _unscheduled(report: StallReport) -> bool:
    """The report says this process did not get the CPU (this machine is a VM
    shared with other work): no thread ran, or the watchdog waited for a CPU and
    has no sample. Such a trial tells nothing about the stall injected; rare."""
    return report.kind is StallKind.UNKNOWN or (report.overloaded and not report.samples)


def _assert_all(reports: list[StallReport], kind: StallKind, tag: str) -> None:
    lines = marker_lines(tag)
    summary = [(r.kind.value, r.line, round(r.duration * 1000)) for r in reports]
    for report in reports:
        assert report.kind is kind, f"{summary}\n{report}"
        assert report.user_frame is not None, f"{summary}\n{report}"
        assert report.user_frame.filename.endswith("watch_stalls.py"), report.format()
        assert report.user_frame.lineno in lines, f"{summary}\n{report}"
        assert report.duration >= 0.02


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_time_sleep_is_a_blocking_call(loop_kind: str, stalls: Stalls) -> None:
    reports = _trials(loop_kind, stalls.sleep)
    _assert_all(reports, StallKind.BLOCKING, "sleep")
    assert all(r.loop_cpu is not None and r.loop_cpu < 0.5 for r in reports)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_sync_sqlite_query_is_a_blocking_call(loop_kind: str, stalls: Stalls) -> None:
    _assert_all(_trials(loop_kind, stalls.sqlite), StallKind.BLOCKING, "sqlite")


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_python_loop_is_cpu_bound(loop_kind: str, stalls: Stalls) -> None:
    _assert_all(_trials(loop_kind, stalls.cpu), StallKind.CPU, "cpu")


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_gc_collect_is_a_gc_pause(loop_kind: str, stalls: Stalls) -> None:
    stalls.grow_heap()
    try:
        reports = _trials(loop_kind, stalls.gc)
    finally:
        stalls.drop_heap()
    _assert_all(reports, StallKind.GC, "gc")
    assert all(r.gc is not None and r.gc.generation == 2 for r in reports)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_thread_holding_the_gil_is_named_with_its_line(loop_kind: str, stalls: Stalls) -> None:
    async def main() -> list[StallReport]:
        async with LoopMonitor(0.02, log=False) as monitor:
            await settle()
            stop = stalls.start_gil_hog()
            try:
                await reports_after(monitor, 0, count=TRIALS, wait=5.0, quiet=0.0)
            finally:
                monitor.stop()  # while the hog still runs: every stall is its doing
                stop.set()
            return monitor.reports

    reports = run(loop_kind, main)
    # When the machine does not run this process for a while, that is reported as
    # such (no thread ran), not blamed on the hog.
    reports = [r for r in reports if not _unscheduled(r)]
    assert len(reports) >= TRIALS - 2
    _assert_all(reports, StallKind.GIL, "gil")
    for report in reports:
        assert report.gil_holder is not None
        assert report.gil_holder.name == "gil-hog", report.format()
        assert report.gil_holder.stacks, report.format()
        assert report.loop_cpu is not None
        assert report.loop_cpu < 0.2


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_thread_that_held_the_gil_once_is_named(loop_kind: str, stalls: Stalls) -> None:
    # Its stack is caught where it let the GIL go only if the watchdog or the
    # heartbeat runs before it does; its name and CPU time are always right.
    for report in _trials(loop_kind, stalls.gil_once):
        assert report.kind is StallKind.GIL, report.format()
        assert report.gil_holder is not None
        assert report.gil_holder.name == "gil-worker", report.format()


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_threads_taking_turns_with_the_gil_starve_the_loop(loop_kind: str, stalls: Stalls) -> None:
    # One pure-Python thread gives the GIL back every switch interval (5 ms), which
    # lags the loop by about that much; several in turn stall it for tens of ms.
    async def main() -> list[StallReport]:
        async with LoopMonitor(0.02, log=False) as monitor:
            await settle()
            release = await stalls.gil_threads()
            await settle(0.05)
        release()
        return monitor.reports

    for _ in range(2):
        reports = [r for r in run(loop_kind, main) if not _unscheduled(r)]
        assert reports, "four spinning threads never stalled the loop"
        for report in reports:
            assert report.kind is StallKind.GIL, report.format()
            assert report.gil_holder is not None
            assert "spin-" in report.gil_holder.name
        assert any(r.user_frame and r.user_frame.lineno in marker_lines("spin") for r in reports)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_report_names_the_task(loop_kind: str, stalls: Stalls) -> None:
    async def handler() -> None:
        stalls.sleep()

    async def main() -> StallReport:
        async with LoopMonitor(0.02, log=False) as monitor:
            await settle()
            await asyncio.create_task(handler(), name="stalling-task")
            return main_report(await reports_after(monitor, 0))

    report = run(loop_kind, main)
    assert report.task is not None, report.format()
    assert "stalling-task" in report.task
    assert "handler" in report.task
    assert report.samples > 0
    assert report.stacks
    assert report.stacks[0].frames[-1].lineno in marker_lines("sleep")
    assert sum(g.count for g in report.stacks) == report.samples


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_quiet_loop_has_lag_but_no_stalls(loop_kind: str) -> None:
    async def main() -> LoopMonitor:
        async with LoopMonitor(0.2, 0.005, log=False) as monitor:
            for _ in range(50):
                await asyncio.sleep(0.002)
        return monitor

    monitor = run(loop_kind, main)
    snap = monitor.snapshot()
    assert snap.count >= 10
    assert snap.max < 0.2
    assert snap.over_threshold == 0
    assert 0 <= snap.p50 <= snap.p99 <= snap.max
    assert monitor.reports == []


def test_stall_in_progress_at_stop_is_reported(stalls: Stalls) -> None:
    async def main() -> list[StallReport]:
        monitor = LoopMonitor(0.02, log=False).start()
        await settle()
        stalls.sleep()
        monitor.stop()  # the heartbeat never ran after the stall
        return monitor.reports

    reports = run("asyncio", main)
    assert [r.kind for r in reports] == [StallKind.BLOCKING]
    assert reports[0].line is not None
    assert int(reports[0].line.rsplit(":", 1)[1]) in marker_lines("sleep")


def test_polling_fallback_without_a_kernel_timer(
    stalls: Stalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Off Linux there is no timerfd: the watchdog polls instead.
    monkeypatch.setattr("loopsafe.watch._monitor.Alarm.create", lambda delay: None)
    _assert_all(_trials("asyncio", stalls.sleep, trials=2), StallKind.BLOCKING, "sleep")
    _assert_all(_trials("uvloop", stalls.cpu, trials=2), StallKind.CPU, "cpu")


def test_time_the_loop_is_not_running_is_not_a_stall() -> None:
    with asyncio.Runner() as runner:
        monitor = LoopMonitor(0.02, log=False)
        runner.run(_start(monitor))
        time.sleep(0.1)  # between two run() calls the loop is stopped, not stalled
        runner.run(settle(0.05))
        monitor.stop()
    assert monitor.reports == []
    assert monitor.snapshot().max < 0.02


async def _start(monitor: LoopMonitor) -> None:
    monitor.start()
    await settle()
