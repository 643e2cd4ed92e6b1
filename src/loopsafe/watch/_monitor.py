"""LoopMonitor: a heartbeat on the loop plus a watchdog thread that explains stalls."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Self

from loopsafe.watch import _frames
from loopsafe.watch._alarm import Alarm
from loopsafe.watch._diagnosis import Evidence, Verdict, diagnose
from loopsafe.watch._files import default_is_user_file
from loopsafe.watch._gc import recorder as gc_recorder
from loopsafe.watch._heartbeat import Heartbeat
from loopsafe.watch._histogram import LagHistogram, LagSnapshot
from loopsafe.watch._ratelimit import RateLimiter
from loopsafe.watch._watchdog import Watchdog
from loopsafe.watch.report import (
    Frame,
    GcPauseInfo,
    StallKind,
    StallReport,
    ThreadInfo,
    wall_time_of,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from prometheus_client.registry import CollectorRegistry

__all__ = ["LoopMonitor", "StallCallback", "monitor"]

StallCallback = Callable[[StallReport], object]
"""Called on the watchdog thread with each report that passes the rate limit."""

logger = logging.getLogger("loopsafe.watch")


class LoopMonitor:
    """Watch one event loop: lag histogram, stall detection, classification, reports.

    The loop runs one timer callback per ``interval`` (its lateness is the lag).
    A daemon thread sleeps until the heartbeat is ``threshold / 2`` overdue (on
    Linux on a kernel timer each beat pushes back, so a healthy loop never wakes
    it; elsewhere it polls at that period), then samples the loop thread's stack
    (and the other threads') every ``sample_interval`` until the heartbeat runs
    again. A heartbeat late by at least ``threshold`` becomes a
    :class:`StallReport`: kept in :attr:`reports`, counted in the metrics, and -
    rate-limited per fingerprint - logged to the ``loopsafe.watch`` logger and
    passed to the ``on_stall`` callbacks.

    ``duration`` is the heartbeat's lag: the loop was blocked at least that long
    (at most ``interval`` longer).

    Works the same on asyncio and uvloop loops and patches nothing.

    Args:
        threshold: lag, in seconds, from which a late heartbeat is a stall.
        interval: heartbeat period (default ``min(0.01, threshold / 2)``).
        name: label of this loop in metrics and reports.
        sample_interval: stack sampling period during a stall.
        on_stall: callback for each reported stall (runs on the watchdog thread).
        metrics: expose Prometheus metrics: ``True`` for the default registry, or a
            ``CollectorRegistry``.
        is_user_file: decides which files are user code, for the blamed line
            (default: not the standard library, site-packages or loopsafe.watch).
        log: log reports to the ``loopsafe.watch`` logger (level WARNING).
        keep: how many reports :attr:`reports` keeps.
        reports_per_fingerprint: reports of one fingerprint logged per ``report_period``.
        reports_per_period: reports logged per ``report_period``, all fingerprints.
        report_period: the rate-limit window, in seconds.
    """

    def __init__(
        self,
        threshold: float = 0.02,
        interval: float | None = None,
        *,
        name: str = "main",
        sample_interval: float = 0.002,
        on_stall: StallCallback | None = None,
        metrics: bool | CollectorRegistry = False,
        is_user_file: Callable[[str], bool] | None = None,
        log: bool = True,
        keep: int = 256,
        reports_per_fingerprint: int = 1,
        reports_per_period: int = 20,
        report_period: float = 60.0,
    ) -> None:
        if interval is None:
            interval = min(0.01, threshold / 2)
        if not (threshold > 0 and interval > 0 and sample_interval > 0):
            raise ValueError("threshold, interval and sample_interval must be positive")
        if interval > threshold:
            raise ValueError(f"interval ({interval}) must not exceed threshold ({threshold})")
        self.threshold = threshold
        self.interval = interval
        self.name = name
        self.sample_interval = sample_interval
        self.is_user_file = is_user_file or default_is_user_file
        self.log = log
        self._callbacks: list[StallCallback] = [on_stall] if on_stall is not None else []
        self._metrics = metrics
        self._histogram = LagHistogram(threshold)
        self._reports: deque[StallReport] = deque(maxlen=keep)
        self._totals: Counter[StallKind] = Counter()
        self._seconds: dict[StallKind, float] = {}
        self._lock = threading.Lock()
        self._limiter = RateLimiter(reports_per_fingerprint, reports_per_period, report_period)
        self._heartbeat: Heartbeat | None = None
        self._watchdog: Watchdog | None = None
        self._alarm: Alarm | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the monitor is started."""
        return self._heartbeat is not None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The monitored loop, while running."""
        return self._loop

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> Self:
        """Start watching ``loop`` (default: the running loop). Callable from any thread."""
        if self.running:
            raise RuntimeError("LoopMonitor already started")
        if loop is None:
            loop = asyncio.get_running_loop()
        self._loop = loop
        trigger = self.threshold / 2
        alarm = Alarm.create(self.interval + trigger)
        heartbeat = Heartbeat(
            loop,
            self.interval,
            self.threshold,
            self._histogram,
            rearm=alarm.arm if alarm is not None else None,
            wake=alarm.fire if alarm is not None else None,
        )
        watchdog = Watchdog(
            heartbeat,
            poll=trigger,
            trigger=trigger,
            sample_interval=self.sample_interval,
            on_evidence=self._on_evidence,
            name=f"loopsafe-watch-{self.name}",
            alarm=alarm,
        )
        if self._metrics is not False:
            from loopsafe.watch import metrics

            metrics.attach(self, None if self._metrics is True else self._metrics)
        gc_recorder.acquire()
        self._heartbeat, self._watchdog, self._alarm = heartbeat, watchdog, alarm
        heartbeat.start()
        watchdog.start()
        return self

    def stop(self) -> None:
        """Stop watching. Called on the loop thread, a stall still under way counts.

        Waits for the watchdog to finish its last report. Metrics stay exposed
        (with their final values) until the monitor is garbage-collected.
        """
        heartbeat, watchdog = self._heartbeat, self._watchdog
        if heartbeat is None or watchdog is None:
            return
        self._heartbeat = self._watchdog = None
        heartbeat.stop()
        watchdog.stop()
        if self._alarm is not None:
            self._alarm.close()
            self._alarm = None
        gc_recorder.release()
        self._loop = None

    async def __aenter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def add_callback(self, callback: StallCallback) -> None:
        """Also call ``callback`` with each reported stall (on the watchdog thread)."""
        self._callbacks.append(callback)

    # -- results -----------------------------------------------------------------------

    @property
    def histogram(self) -> LagHistogram:
        """The lag histogram (read it through :meth:`snapshot`)."""
        return self._histogram

    def snapshot(self) -> LagSnapshot:
        """Lag percentiles, maximum and count over threshold since start or reset."""
        return self._histogram.snapshot()

    def reset(self) -> None:
        """Forget the lag histogram and the stored reports (not the metrics' totals)."""
        self._histogram.reset()
        with self._lock:
            self._reports.clear()

    @property
    def reports(self) -> list[StallReport]:
        """Every stall seen (the most recent ``keep``), rate limit or not."""
        with self._lock:
            return list(self._reports)

    def stall_totals(self) -> Mapping[StallKind, tuple[int, float]]:
        """Stalls seen per kind: (count, seconds)."""
        with self._lock:
            return {k: (n, self._seconds.get(k, 0.0)) for k, n in self._totals.items()}

    # -- watchdog side -----------------------------------------------------------------

    def _on_evidence(self, ev: Evidence) -> None:
        report = self._build(ev, diagnose(ev))
        with self._lock:
            self._reports.append(report)
            self._totals[report.kind] += 1
            self._seconds[report.kind] = self._seconds.get(report.kind, 0.0) + report.duration
        emit, suppressed = self._limiter.admit(report.fingerprint)
        if not emit:
            return
        if suppressed:
            report = _with_suppressed(report, suppressed)
        if self.log:
            logger.warning("%s", report.format(), extra={"loopsafe_stall": report})
        for callback in list(self._callbacks):
            try:
                callback(report)
            except Exception:
                logger.exception("loopsafe.watch: on_stall callback failed")

    def _build(self, ev: Evidence, verdict: Verdict) -> StallReport:
        is_user = self.is_user_file
        busy = [s for s, idle in zip(ev.loop_stacks, ev.loop_idle, strict=True) if not idle]
        frame: Frame | None = _frames.most_common_user_frame(busy, is_user)
        holder: ThreadInfo | None = None
        holder_frame: Frame | None = None
        gc_info: GcPauseInfo | None = None
        if verdict.holder_name is not None:
            captures = sorted(c for i in verdict.holders for c in ev.thread_stacks.get(i, []))
            holder = ThreadInfo(
                name=verdict.holder_name,
                ident=verdict.holder,
                cpu=verdict.holder_cpu,
                stacks=_frames.group(stack for _, stack in captures),
            )
            # The first capture is nearest the moment the holder let the GIL go.
            for _, stack in captures:
                holder_frame = _frames.user_frame(stack, is_user)
                if holder_frame is not None:
                    break
        if verdict.kind is StallKind.GIL:
            frame = holder_frame
        if verdict.gc is not None:
            pause = verdict.gc
            gc_info = GcPauseInfo(
                generation=pause.generation,
                duration=pause.duration,
                collected=pause.collected,
                thread=ev.thread_names.get(
                    pause.thread, "loop" if pause.thread == ev.loop_ident else "?"
                ),
            )
            gc_frame = _frames.user_frame(pause.stack, is_user)
            if gc_frame is not None:
                frame = gc_frame
        task, route = _majority(ev.tasks)
        debugger = ev.traced or any(
            _frames.is_debugger_frame(f) for stack in ev.loop_stacks for f in stack
        )
        return StallReport(
            kind=verdict.kind,
            duration=ev.lag,
            started_at=wall_time_of(ev.start),
            detail=verdict.detail,
            user_frame=frame,
            stacks=_frames.group(ev.loop_stacks),
            samples=len(ev.loop_stacks),
            task=task,
            route=route,
            loop_cpu=_loop_share(ev) if verdict.loop_share is None else verdict.loop_share,
            gil_holder=holder,
            gc=gc_info,
            overloaded=ev.overloaded,
            under_debugger=debugger,
            loop=self.name,
            is_user_file=is_user,
        )


def _loop_share(ev: Evidence) -> float | None:
    if ev.loop_cpu is None or ev.loop_window <= 0:
        return None
    return min(1.0, ev.loop_cpu / ev.loop_window)


def _majority(tasks: list[tuple[str | None, str | None]]) -> tuple[str | None, str | None]:
    seen = Counter(t for t in tasks if t[0] is not None)
    if not seen:
        return None, None
    return seen.most_common(1)[0][0]


def _with_suppressed(report: StallReport, suppressed: int) -> StallReport:
    return replace(report, suppressed=suppressed)


def monitor(
    threshold: float = 0.02,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    name: str = "main",
    on_stall: StallCallback | None = None,
    metrics: bool | CollectorRegistry = False,
    log: bool = True,
) -> LoopMonitor:
    """Start a :class:`LoopMonitor` on ``loop`` (default: the running loop) and return it.

    Also an async context manager: ``async with loopsafe.watch.monitor(): ...``.
    """
    return LoopMonitor(threshold, name=name, on_stall=on_stall, metrics=metrics, log=log).start(
        loop
    )
