"""The watchdog thread: notices a late heartbeat and samples stacks until it resumes."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable

from loopsafe.watch import tasks as task_labels
from loopsafe.watch._classify import Evidence
from loopsafe.watch._cpu import CpuSnapshot, ThreadCpu, deltas, unattributed
from loopsafe.watch._frames import is_idle, outer_to_inner, summarize, thread_stack, trim_own
from loopsafe.watch._gc import recorder as gc_recorder
from loopsafe.watch._heartbeat import Heartbeat, LateBeat

log = logging.getLogger("loopsafe.watch")

try:
    from asyncio.tasks import _current_tasks as _CURRENT_TASKS  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Pythons keep it elsewhere
    _CURRENT_TASKS = {}


class Watchdog(threading.Thread):
    """Polls the heartbeat every ``poll`` seconds; once it is ``trigger`` overdue,
    samples every ``sample_interval`` until it runs, then hands evidence over."""

    def __init__(
        self,
        heartbeat: Heartbeat,
        *,
        poll: float,
        trigger: float,
        sample_interval: float,
        on_evidence: Callable[[Evidence], None],
        name: str,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._hb = heartbeat
        self._poll = poll
        self._trigger = trigger
        self._sample_interval = sample_interval
        self._on_evidence = on_evidence
        self._stop_event = threading.Event()
        self._cpu = ThreadCpu()
        self._pending: Evidence | None = None
        self._pending_baseline: CpuSnapshot | None = None

    def stop(self, timeout: float = 2.0) -> None:
        """Finish the stall in hand (if it ended) and exit."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        hb = self._hb
        hb.skip_idents = frozenset({threading.get_ident()})
        baseline = self._cpu.snapshot()
        wait = self._poll
        while True:
            deadline = time.monotonic() + wait
            stopping = self._stop_event.wait(wait)
            now = time.monotonic()
            try:
                baseline, wait = self._step(now, max(0.0, now - deadline), baseline, stopping)
            except Exception:  # pragma: no cover - a bug here must not kill the watchdog
                log.exception("loopsafe.watch: watchdog error")
                self._pending = None
                baseline, wait = self._cpu.snapshot(), self._poll
            if stopping:
                return

    def _step(
        self, now: float, overshoot: float, baseline: CpuSnapshot, stopping: bool
    ) -> tuple[CpuSnapshot, float]:
        hb = self._hb
        late: list[LateBeat] = []
        while hb.late:
            late.append(hb.late.popleft())
        pending = self._pending
        if late or (pending is not None and hb.due != pending.due):
            after = self._cpu.snapshot()
            for beat in late:
                if pending is not None and beat.due == pending.due:
                    ev, start = pending, self._pending_baseline or baseline
                    pending = None
                else:
                    ev, start = self._new_evidence(beat.due, baseline), baseline
                    ev.overshoots.append(overshoot)
                self._finish(ev, beat, start, after)
            self._pending = pending = None
            baseline = after
        if stopping or hb.thread_ident is None:
            return baseline, self._poll
        loop = hb.loop
        if loop.is_closed() or not loop.is_running():
            self._pending = None
            return self._cpu.snapshot(), self._poll
        if pending is None and now - hb.due >= self._trigger:
            pending = self._pending = self._new_evidence(hb.due, baseline)
            self._pending_baseline = baseline
        if pending is None:
            return self._cpu.snapshot(), self._poll
        pending.overshoots.append(overshoot)
        self._sample(pending)
        return baseline, self._sample_interval

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
                shown = inner if found else chain
            else:
                idle, shown = False, chain
            ev.loop_stacks.append(trim_own(summarize(shown)))
            ev.loop_idle.append(idle)
            ev.tasks.append(_current_task(hb.loop))
        for ident, frame in frames.items():
            if ident not in (me, ev.loop_ident):
                ev.thread_stacks.setdefault(ident, []).append((now, thread_stack(frame)))
        del frames, loop_frame

    def _finish(
        self, ev: Evidence, beat: LateBeat, before: CpuSnapshot, after: CpuSnapshot
    ) -> None:
        ev.due, ev.at, ev.lag = beat.due, beat.at, beat.lag
        ev.traced = ev.traced or beat.traced
        for ident, stack in beat.threads.items():
            ev.thread_stacks.setdefault(ident, []).append((beat.at, stack))
        ev.window = after.at - before.at
        ev.thread_names.update(after.names)
        if self._cpu.supported:
            used = deltas(before, after)
            ev.unattributed_cpu = unattributed(before, after, used)
            ev.loop_cpu = used.pop(ev.loop_ident, None)
            used.pop(threading.get_ident(), None)
            ev.thread_cpu = used
            ev.exited = {i: n for i, n in before.names.items() if i not in after.cpu}
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
    return label, task_labels.label_of(task)
