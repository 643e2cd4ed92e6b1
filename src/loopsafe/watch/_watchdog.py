"""The watchdog thread: notices a late heartbeat and samples stacks until it resumes."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable

from loopsafe.watch._alarm import Alarm
from loopsafe.watch._cpu import CpuSnapshot, RunQueueClock, ThreadCpu, deltas, unattributed
from loopsafe.watch._diagnosis import Evidence
from loopsafe.watch._frames import (
    is_idle,
    outer_to_inner,
    summarize,
    thread_stack,
    trim_own,
    without_dispatch,
)
from loopsafe.watch._gc import recorder as gc_recorder
from loopsafe.watch._heartbeat import Heartbeat, LateBeat
from loopsafe.watch.tasks import label_of

log = logging.getLogger("loopsafe.watch")

try:
    from asyncio.tasks import _current_tasks as _CURRENT_TASKS  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Pythons keep it elsewhere
    _CURRENT_TASKS = {}


MAX_SAMPLES = 200
"""Samples kept per stall (at the default 2 ms, the first 0.4 s of it)."""
MAX_THREAD_SAMPLES = 16
"""Samples per stall that include the other threads' stacks too."""
SLOW_POLL = 1.0
"""With an alarm, how often the watchdog still wakes to refresh its CPU baseline
(for stalls it cannot watch in progress: the GIL held throughout)."""


class Watchdog(threading.Thread):
    """Sleeps until the heartbeat is ``trigger`` overdue, then samples every
    ``sample_interval`` until it runs again, and hands the evidence over.

    With an :class:`Alarm` (Linux) it sleeps without the GIL and wakes only for
    stalls (and every ``SLOW_POLL``); without one it polls every ``poll``.
    """

    def __init__(
        self,
        heartbeat: Heartbeat,
        *,
        poll: float,
        trigger: float,
        sample_interval: float,
        on_evidence: Callable[[Evidence], None],
        name: str,
        alarm: Alarm | None = None,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._hb = heartbeat
        self._poll = poll
        self._trigger = trigger
        self._sample_interval = sample_interval
        self._on_evidence = on_evidence
        self._alarm = alarm
        self._stop_event = threading.Event()
        self._cpu = ThreadCpu()
        self._pending: Evidence | None = None
        self._pending_baseline: CpuSnapshot | None = None
        self._runqueue = RunQueueClock(open_now=False)  # opened on the watchdog thread
        self._slept_from: float | None = None

    def stop(self, timeout: float = 2.0) -> None:
        """Finish the stall in hand (if it ended) and exit."""
        self._stop_event.set()
        if self._alarm is not None:
            self._alarm.fire()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        self._hb.skip_idents = frozenset({threading.get_ident()})
        self._runqueue = RunQueueClock()
        try:
            self._run()
        finally:
            self._runqueue.close()

    def _run(self) -> None:
        baseline = self._cpu.snapshot()
        while True:
            timer_due: float | None
            if self._pending is not None or self._alarm is None:
                wait = self._sample_interval if self._pending is not None else self._poll
                timer_due = time.monotonic() + wait
                stopping = self._stop_event.wait(wait)
            else:
                self._slept_from = self._runqueue.read()
                fired = self._alarm.wait(SLOW_POLL)
                timer_due = None if fired else time.monotonic()
                stopping = self._stop_event.is_set()
            try:
                baseline = self._step(time.monotonic(), timer_due, baseline, stopping)
            except Exception:  # pragma: no cover - a bug here must not kill the watchdog
                log.exception("loopsafe.watch: watchdog error")
                self._pending = None
                baseline = self._cpu.snapshot()
            if stopping:
                return

    def _step(
        self, now: float, timer_due: float | None, baseline: CpuSnapshot, stopping: bool
    ) -> CpuSnapshot:
        """One wake-up: ``timer_due`` is when a timed wait was to end (None: the
        alarm went off). Returns the CPU baseline for the next stall."""
        hb = self._hb
        late: list[LateBeat] = []
        while hb.late:
            late.append(hb.late.popleft())
        pending = self._pending
        if late or (pending is not None and hb.due != pending.due):
            after = self._cpu.snapshot()
            # Read only now that the stall is over (the read releases the GIL):
            # the watchdog's wait for a CPU since it last went to sleep.
            rq = self._runqueue.read()
            waited = rq - self._slept_from if rq is not None and self._slept_from else 0.0
            for beat in late:
                if pending is not None and beat.due == pending.due:
                    ev, start = pending, self._pending_baseline or baseline
                    pending = None
                else:
                    # Not seen in progress: the watchdog could not run (GIL held).
                    ev, start = self._new_evidence(beat.due, baseline), baseline
                    ev.overshoots.append(max(0.0, now - (beat.due + self._trigger)))
                ev.watchdog_runqueue = waited
                self._finish(ev, beat, start, after)
            self._pending = pending = None
            baseline = after
        if stopping or hb.thread_ident is None:
            return baseline
        loop = hb.loop
        if loop.is_closed() or not loop.is_running():
            self._pending = None
            hb.paused = True
            return self._cpu.snapshot()
        alarm_due = hb.due + self._trigger
        if pending is None:
            if now < alarm_due:
                # A timed wake-up (or the alarm went off and the beat has run since).
                return self._cpu.snapshot() if timer_due is not None else baseline
            overshoot = now - (alarm_due if timer_due is None else timer_due)
            pending = self._pending = self._new_evidence(hb.due, baseline)
            # Woken late, the watchdog waited for the GIL through most of the stall:
            # only the older baseline covers it.
            late_wake = overshoot >= self._trigger
            self._pending_baseline = baseline if late_wake else self._cpu.snapshot()
        else:
            overshoot = max(0.0, now - (timer_due or now))
        if len(pending.overshoots) < MAX_SAMPLES:
            pending.overshoots.append(max(0.0, overshoot))
            self._sample(pending)
        return baseline

    def _new_evidence(self, due: float, baseline: CpuSnapshot) -> Evidence:
        hb = self._hb
        return Evidence(
            due=due,
            at=due,
            lag=0.0,
            window=0.0,
            loop_ident=hb.thread_ident or 0,
            loop_cpu=None,
            thread_cpu={},
            thread_names=dict(baseline.names),
        )

    def _sample(self, ev: Evidence) -> None:
        hb = self._hb
        me = threading.get_ident()
        now = time.monotonic()
        frames = sys._current_frames()
        loop_frame = frames.get(ev.loop_ident)
        if loop_frame is not None:
            chain = outer_to_inner(loop_frame)
            base = hb.base
            if base is not None:
                inner, found = base.split(chain)
                idle = found and is_idle(inner)
                shown = without_dispatch(inner) if found else chain
            else:
                idle, shown = False, chain
            ev.loop_stacks.append(trim_own(summarize(shown)))
            ev.loop_idle.append(idle)
            ev.tasks.append(_current_task(hb.loop))
        names = ev.thread_names
        if len(ev.loop_stacks) > MAX_THREAD_SAMPLES:
            return
        for ident, frame in frames.items():
            if ident not in (me, ev.loop_ident):
                ev.thread_stacks.setdefault(ident, []).append((now, thread_stack(frame)))
                if ident not in names:
                    names.update((t.ident, t.name) for t in threading.enumerate() if t.ident)

    def _finish(
        self, ev: Evidence, beat: LateBeat, before: CpuSnapshot, after: CpuSnapshot
    ) -> None:
        ev.due, ev.at, ev.lag = beat.due, beat.at, beat.lag
        # The loop thread's CPU is measured by the heartbeat itself, beat to beat.
        ev.loop_cpu, ev.loop_window = beat.loop_cpu, beat.at - beat.since
        ev.traced = ev.traced or beat.traced
        for ident, (name, stack) in beat.threads.items():
            ev.thread_stacks.setdefault(ident, []).append((beat.at, stack))
            ev.thread_names.setdefault(ident, name)
        ev.window = after.at - before.at
        ev.thread_names.update(after.names)
        if self._cpu.supported:
            ev.others_known = True
            used = deltas(before, after)
            ev.unattributed_cpu = unattributed(before, after, used)
            used.pop(ev.loop_ident, None)
            used.pop(threading.get_ident(), None)
            ev.thread_cpu = used
            seen = before.names.keys() | ev.thread_stacks.keys()
            ev.exited = {
                i: ev.thread_names.get(i, f"ident {i}")
                for i in seen
                if i not in after.cpu and i != ev.loop_ident
            }
        ev.gc_pauses = gc_recorder.overlapping(ev.start, ev.at)
        self._on_evidence(ev)


def _current_task(loop: asyncio.AbstractEventLoop) -> tuple[str | None, str | None]:
    task = _CURRENT_TASKS.get(loop)
    if task is None:
        return None, None
    try:
        name = task.get_name()
        coro = task.get_coro()
        qualname = getattr(coro, "__qualname__", None)
        label = f"{name} ({qualname})" if qualname else name
    except Exception:  # pragma: no cover - a foreign task type
        label = repr(task)
    return label, label_of(task)
