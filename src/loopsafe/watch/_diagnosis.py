"""Deciding why the loop stalled, from what the watchdog measured.

The signals, each cheap and each robust on its own:

* GC pauses, timed exactly by a ``gc.callbacks`` hook.
* Whether the loop thread was idle: its stack, deeper than the loop's base frame,
  held only the loop's own polling code (asyncio) or nothing (uvloop, whose loop is C).
* Per-thread CPU time over the stall (Linux thread CPU clocks).
* Whether the GIL was free: the watchdog wakes on a timer and must take the GIL
  to run; when another thread is executing Python it waits a switch interval
  (5 ms) for it, when a C call holds it, the whole call. A blocking call (sleep,
  I/O, a sqlite3 query) releases the GIL, so the watchdog wakes on time.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field

from loopsafe.watch._gc import GcPause
from loopsafe.watch.report import Stack, StallKind

BUSY = 0.5
"""Share of the stall on CPU above which a thread counts as busy."""
RUNNING = 0.2
"""Share of the stall on CPU below which the loop thread cannot have caused it."""
HOLDER = 0.3
"""Share of the stall on CPU a thread needs to be named as the GIL holder."""


@dataclass(slots=True)
class Evidence:
    """Everything known about one stall."""

    due: float
    at: float
    lag: float
    window: float
    """Length of the other threads' CPU measurement window (it covers the stall)."""
    loop_ident: int
    loop_cpu: float | None
    """CPU seconds of the loop thread from the beat before the stall to its end."""
    thread_cpu: dict[int, float]
    """Other live threads: ident -> CPU seconds in the window."""
    thread_names: dict[int, str]
    unattributed_cpu: float = 0.0
    """Process CPU in the window that no live Python thread accounts for."""
    exited: dict[int, str] = field(default_factory=dict)
    """Threads that existed when the window began and had exited at its end."""
    loop_stacks: list[Stack] = field(default_factory=list)
    loop_idle: list[bool] = field(default_factory=list)
    tasks: list[tuple[str | None, str | None]] = field(default_factory=list)
    """(task, route) per loop sample."""
    thread_stacks: dict[int, list[tuple[float, Stack]]] = field(default_factory=dict)
    """Other threads' stacks: (monotonic time captured, stack)."""
    overshoots: list[float] = field(default_factory=list)
    """How late the watchdog woke, per wake-up during the stall."""
    gc_pauses: list[GcPause] = field(default_factory=list)
    traced: bool = False
    loop_window: float = 0.0
    """Length of the loop thread's CPU measurement window."""
    others_known: bool = False
    """Whether other threads' CPU time could be read (Linux)."""
    watchdog_runqueue: float = 0.0
    """Time the watchdog waited for a free CPU while the stall went on."""

    @property
    def start(self) -> float:
        return self.at - self.lag

    @property
    def overloaded(self) -> bool:
        """The watchdog was late mostly because no CPU was free, not for the GIL."""
        late = sum(self.overshoots)
        return self.watchdog_runqueue > 0.005 and self.watchdog_runqueue >= 0.5 * late


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classification of one stall."""

    kind: StallKind
    detail: str
    holder: int | None = None
    holders: tuple[int, ...] = ()
    """Threads whose stacks explain the stall (the holder, or exited threads)."""
    holder_name: str | None = None
    holder_cpu: float | None = None
    gc: GcPause | None = None
    loop_share: float | None = None


def gil_contended(ev: Evidence, switch_interval: float | None = None) -> bool:
    """Whether the watchdog had to wait for the GIL while the loop was stalled (its
    lateness, less the time it waited for a free CPU)."""
    if not ev.overshoots:
        return False
    interval = sys.getswitchinterval() if switch_interval is None else switch_interval
    cpu_wait = ev.watchdog_runqueue
    # One wake delayed by most of the stall: a C call or GC held the GIL throughout.
    if max(ev.overshoots) - cpu_wait >= max(0.5 * ev.lag, 2 * interval):
        return True
    gil_wait = max(0.0, sum(ev.overshoots) - cpu_wait) / len(ev.overshoots)
    return (
        gil_wait >= 0.4 * interval or statistics.median(ev.overshoots) - cpu_wait >= 0.4 * interval
    )


def diagnose(ev: Evidence, switch_interval: float | None = None) -> Verdict:
    """Name the kind of a stall and explain it in one sentence."""
    if ev.gc_pauses:
        verdict = _gc(ev)
        if verdict is not None:
            return verdict
    # The other threads' window can start long before the stall (the watchdog's
    # baseline is refreshed every second): measure against the stall itself.
    window = max(min(ev.window, max(ev.lag, ev.loop_window)), 1e-9)
    contended = gil_contended(ev, switch_interval)
    sampled = bool(ev.loop_idle)
    idle = sampled and sum(ev.loop_idle) * 2 >= len(ev.loop_idle)
    if ev.loop_cpu is None or not ev.others_known:
        return _without_cpu(sampled, idle, contended)
    loop = min(1.0, ev.loop_cpu / max(ev.loop_window, 1e-9))
    holder, name, holder_cpu = _top_thread(ev)
    # All other threads together: several threads taking turns starve the loop as well.
    others_cpu = sum(ev.thread_cpu.values()) + ev.unattributed_cpu
    other = min(1.0, others_cpu / window)
    if others_cpu > holder_cpu * 1.5:
        name = f"{name} (and others)"

    def cpu(why: str) -> Verdict:
        return Verdict(StallKind.CPU, f"{why} ({loop:.0%} of the stall on CPU)", loop_share=loop)

    def gil() -> Verdict:
        return Verdict(
            StallKind.GIL,
            f"the loop thread waited for the GIL while thread {name!r} ran "
            f"(other threads {other:.0%} of the stall on CPU, the loop thread {loop:.0%})",
            holder=holder,
            holders=(holder,) if holder is not None else tuple(ev.exited),
            holder_name=name,
            holder_cpu=holder_cpu,
            loop_share=loop,
        )

    def unknown() -> Verdict:
        return Verdict(
            StallKind.UNKNOWN,
            f"no thread of the process ran much (loop thread {loop:.0%} on CPU, busiest other "
            f"{other:.0%}): the process was not scheduled (overloaded machine, paused process)",
            loop_share=loop,
        )

    if idle or not sampled:
        # Without a stack of the loop thread in user code, CPU time says who ran.
        if loop >= BUSY and loop >= other:
            return cpu("the loop thread kept the CPU and the GIL")
        if other >= HOLDER:
            return gil()
        if not sampled and loop >= RUNNING and loop >= other:
            return cpu("the loop thread kept the CPU and the GIL")
        return unknown()
    if not contended:
        if loop >= BUSY:
            how = (
                f"on the CPU with the GIL released ({loop:.0%} of the stall): "
                "C code such as a sqlite3 query or compression"
            )
        else:
            how = f"off the CPU ({loop:.0%} on CPU): sleep, I/O, a lock or a subprocess"
        return Verdict(
            StallKind.BLOCKING, f"the loop thread sat in one call {how}", loop_share=loop
        )
    if loop >= RUNNING and loop >= other:
        return cpu("code on the loop thread kept the CPU and the GIL")
    if other >= HOLDER:
        return gil()
    if loop >= RUNNING:
        return cpu("code on the loop thread kept the CPU and the GIL")
    return unknown()


def _gc(ev: Evidence) -> Verdict | None:
    gc_time = sum(p.overlap(ev.start, ev.at) for p in ev.gc_pauses)
    pause = max(ev.gc_pauses, key=lambda p: p.overlap(ev.start, ev.at))
    # The collecting thread's CPU over the window: on a loaded machine the stall
    # outlasts the collection, yet the collection is still most of what ran.
    ran = ev.loop_cpu if pause.thread == ev.loop_ident else ev.thread_cpu.get(pause.thread)
    if gc_time >= 0.5 * ev.lag or (
        ran is not None and gc_time >= 0.5 * ran and gc_time >= 0.25 * ev.lag
    ):
        return Verdict(
            StallKind.GC,
            f"a full garbage collection ran {pause.cpu * 1000:.0f} ms "
            f"({gc_time / ev.lag:.0%} of the stall) holding the GIL",
            gc=pause,
        )
    return None


def _without_cpu(sampled: bool, idle: bool, contended: bool) -> Verdict:
    # No per-thread CPU clocks (not Linux): stacks and GIL contention only.
    if not sampled:
        return Verdict(StallKind.UNKNOWN, "the watchdog could not sample the stall")
    if idle:
        if contended:
            return Verdict(
                StallKind.GIL, "the loop thread was idle and another thread held the GIL"
            )
        return Verdict(StallKind.UNKNOWN, "the loop thread was idle: the process was not scheduled")
    if contended:
        return Verdict(StallKind.CPU, "code on the loop thread kept the GIL")
    return Verdict(StallKind.BLOCKING, "the loop thread sat in one call with the GIL released")


def _top_thread(ev: Evidence) -> tuple[int | None, str, float]:
    ident: int | None = None
    cpu = 0.0
    if ev.thread_cpu:
        ident, cpu = max(ev.thread_cpu.items(), key=lambda item: item[1])
    if ev.unattributed_cpu > cpu:
        cpu = ev.unattributed_cpu
        if len(ev.exited) == 1:
            ident, name = next(iter(ev.exited.items()))
            return ident, f"{name} (exited)", cpu
        if ev.exited:
            return None, ", ".join(sorted(ev.exited.values())) + " (exited)", cpu
        return None, "a thread unknown to Python", cpu
    if ident is None:
        return None, "?", 0.0
    return ident, ev.thread_names.get(ident, f"ident {ident}"), cpu
