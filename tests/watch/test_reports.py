"""Reports: formatting, rate limit and de-duplication, logging and callbacks."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from loopsafe.watch import Frame, LoopMonitor, StackGroup, StallKind, StallReport, labelled
from loopsafe.watch._ratelimit import RateLimiter
from tests.watch.watch_stalls import (
    CpuLoss,
    Stalls,
    checked,
    marker_lines,
    observe,
    reports_after,
    run,
    settle,
    shows,
    watched_threads,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_deduplicates_per_fingerprint_and_counts() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_fingerprint=1, total=100, period=60.0, clock=clock)
    assert limiter.admit("a") == (True, 0)
    assert limiter.admit("a") == (False, 0)
    assert limiter.admit("a") == (False, 0)
    assert limiter.admit("b") == (True, 0)
    clock.now += 61
    assert limiter.admit("a") == (True, 2)
    assert limiter.admit("a") == (False, 0)


def test_rate_limiter_caps_all_fingerprints() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_fingerprint=5, total=3, period=10.0, clock=clock)
    assert [limiter.admit(str(i))[0] for i in range(5)] == [True, True, True, False, False]
    clock.now += 11
    assert limiter.admit("4") == (True, 1)


def _report(kind: StallKind = StallKind.CPU, line: int = 3) -> StallReport:
    frames = (Frame(__file__, 1, "outer"), Frame(__file__, line, "inner"))
    return StallReport(
        kind=kind,
        duration=0.0512,
        started_at=0.0,
        detail="because",
        user_frame=frames[-1],
        stacks=(StackGroup(frames, 4), StackGroup(frames[:1], 1)),
        samples=5,
        task="Task-1 (handler)",
        route="GET /items/{id}",
        loop_cpu=0.97,
    )


def test_format_shows_kind_line_source_task_route_and_grouped_stacks() -> None:
    text = _report().format()
    assert "blocked for 51.2 ms: CPU-bound code on the loop" in text
    assert f"at {__file__}:3 in inner" in text
    assert "route GET /items/{id}" in text
    assert "task Task-1 (handler)" in text
    assert "4x (80%)" in text
    assert "1x (20%)" in text
    assert "loop thread on CPU 97%" in text


def test_fingerprint_depends_on_kind_and_line_only() -> None:
    assert _report().fingerprint == _report().fingerprint
    assert _report().fingerprint != _report(line=4).fingerprint
    assert _report().fingerprint != _report(kind=StallKind.BLOCKING).fingerprint


def test_repeated_stall_is_logged_once_then_with_a_count(
    stalls: Stalls, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[StallReport] = []

    async def main() -> tuple[list[StallReport], float]:
        monitor = LoopMonitor(0.02, on_stall=seen.append, report_period=0.6)
        async with monitor:
            loss = CpuLoss(watched_threads(monitor))
            for i in range(4):
                # The fourth stall comes after the rate-limit window has passed.
                await settle(0.6 if i == 3 else 0.03)
                before = len(monitor.reports)
                stalls.sleep()
                await reports_after(monitor, before)
            return monitor.reports, loss.lost()

    def trial() -> tuple[list[StallReport], float]:
        seen.clear()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="loopsafe.watch"):
            return run("asyncio", main)

    def check(reports: list[StallReport]) -> None:
        sleeps = [r for r in reports if shows(r, "sleep")]
        assert len(sleeps) == 4
        assert len({r.fingerprint for r in sleeps}) == 1, [r.format() for r in sleeps]
        logged = [
            rec for rec in caplog.records if marker_lines("sleep") & _lines_in(rec.getMessage())
        ]
        assert len(logged) == 2, [r.getMessage() for r in caplog.records]
        assert "2 similar stalls not reported" in logged[1].getMessage()
        assert [r.suppressed for r in seen if r.fingerprint == sleeps[0].fingerprint] == [0, 2]
        assert isinstance(getattr(logged[0], "loopsafe_stall", None), StallReport)

    checked(trial, check)


def _lines_in(message: str) -> set[int]:
    return {
        int(part.split(" ")[0])
        for part in message.split("watch_stalls.py:")[1:]
        if part.split(" ")[0].isdigit()
    }


def test_labelled_task_names_its_route(stalls: Stalls) -> None:
    def inject() -> None:
        with labelled("job:nightly-report"):
            stalls.sleep()

    def check(report: StallReport) -> None:
        assert report.route == "job:nightly-report", report.format()

    async def main() -> None:
        async with LoopMonitor(0.02, log=False) as monitor:
            await observe(monitor, inject, "sleep", check)

    run("asyncio", main)


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="interval"):
        LoopMonitor(0.01, 0.05)
    with pytest.raises(ValueError, match="positive"):
        LoopMonitor(0.0)


def test_stop_is_idempotent_and_monitor_restarts(stalls: Stalls) -> None:
    async def main() -> int:
        monitor = LoopMonitor(0.02, log=False)
        for _ in range(2):
            monitor.start()
            with pytest.raises(RuntimeError):
                monitor.start()
            await settle()
            stalls.sleep()
            await reports_after(monitor, len(monitor.reports))
            monitor.stop()
            monitor.stop()
        return len(monitor.reports)

    assert run("asyncio", main) >= 2


def _installed_app_report(is_user_file: Callable[[str], bool] | None = None) -> StallReport:
    app = "/venv/lib/python3.11/site-packages/shop"
    frames = (
        Frame("/venv/lib/python3.11/site-packages/uvicorn/protocols/http.py", 10, "run_asgi"),
        Frame(f"{app}/routes.py", 20, "get_order"),
        Frame(f"{app}/orders.py", 30, "load_order"),
        Frame(f"{app}/orders.py", 40, "query"),
        Frame("/usr/lib/python3.11/sqlite3/dbapi2.py", 50, "execute"),
    )
    extra = {} if is_user_file is None else {"is_user_file": is_user_file}
    return StallReport(
        kind=StallKind.BLOCKING,
        duration=0.05,
        started_at=0.0,
        detail="because",
        user_frame=frames[3],
        stacks=(StackGroup(frames, 1),),
        samples=1,
        **extra,  # type: ignore[arg-type]
    )


def test_format_folds_frames_outside_user_code_by_the_reports_predicate() -> None:
    # An app installed in site-packages is library code to the default predicate.
    assert "in get_order" not in _installed_app_report().format()
    text = _installed_app_report(lambda name: "/site-packages/shop/" in name).format()
    assert "in get_order" in text
    assert "in load_order" in text


def _hop_a(stalls: Stalls) -> None:
    _hop_b(stalls)


def _hop_b(stalls: Stalls) -> None:
    _hop_c(stalls)


def _hop_c(stalls: Stalls) -> None:
    stalls.sleep()


def test_monitors_is_user_file_decides_what_its_reports_fold(stalls: Stalls) -> None:
    def only_helpers(name: str) -> bool:  # this test file is "library" code here
        return name.endswith("watch_stalls.py")

    async def main() -> StallReport:
        async with LoopMonitor(0.02, log=False, is_user_file=only_helpers) as monitor:
            return await observe(monitor, lambda: _hop_a(stalls), "sleep")

    report = run("asyncio", main)
    assert report.is_user_file is only_helpers
    text = report.format()
    assert "in _hop_c" in text  # the innermost two frames are always shown
    assert "in _hop_a" not in text, text
    assert "library frames" in text
