"""What a stall report says: its kind, the line to blame, the grouped stacks."""

from __future__ import annotations

import enum
import hashlib
import linecache
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from loopsafe.watch._files import default_is_user_file

__all__ = ["Frame", "GcPauseInfo", "StackGroup", "StallKind", "StallReport", "ThreadInfo"]


class StallKind(enum.StrEnum):
    """Why the event loop could not run."""

    CPU = "cpu"
    """Code on the loop thread kept the CPU and the GIL (a Python loop, a long C call)."""
    BLOCKING = "blocking"
    """The loop thread sat in one call that released the GIL (sleep, I/O, a sqlite3 query)."""
    GC = "gc"
    """A garbage-collection pause (which holds the GIL, whatever thread triggered it)."""
    GIL = "gil"
    """The loop thread was ready to run but another thread held the GIL."""
    UNKNOWN = "unknown"
    """No thread of the process was running: the process itself was not scheduled."""

    @property
    def label(self) -> str:
        """A short human label."""
        return _TITLES[self]


_TITLES = {
    StallKind.CPU: "CPU-bound code on the loop",
    StallKind.BLOCKING: "blocking call on the loop",
    StallKind.GC: "garbage-collection pause",
    StallKind.GIL: "GIL held by another thread",
    StallKind.UNKNOWN: "process not scheduled",
}


@dataclass(frozen=True, slots=True)
class Frame:
    """One Python frame of a sampled stack."""

    filename: str
    lineno: int
    function: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno} in {self.function}"

    @property
    def location(self) -> str:
        """``file:line``."""
        return f"{self.filename}:{self.lineno}"

    @property
    def source(self) -> str:
        """The source line, stripped, or ``""`` when the file cannot be read."""
        return linecache.getline(self.filename, self.lineno).strip()


Stack = tuple[Frame, ...]
"""A stack, outermost frame first."""


@dataclass(frozen=True, slots=True)
class StackGroup:
    """Identical stacks of one thread, with how many samples showed them."""

    frames: Stack
    count: int


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """Another thread involved in a stall (the GIL holder)."""

    name: str
    ident: int | None
    cpu: float | None
    """Seconds of CPU it used while the loop was stalled."""
    stacks: tuple[StackGroup, ...]


@dataclass(frozen=True, slots=True)
class GcPauseInfo:
    """A garbage collection that overlapped the stall."""

    generation: int
    duration: float
    collected: int
    thread: str


@dataclass(frozen=True)
class StallReport:
    """One stall of the event loop: how long, why, and where.

    ``user_frame`` is the innermost frame in user code (by ``is_user_file``: by
    default not the standard library, site-packages or loopsafe.watch) of the stack
    that explains the stall: the loop thread's for ``CPU``/``BLOCKING``/``GC``, the
    GIL holder's for ``GIL``.
    """

    kind: StallKind
    duration: float
    """Seconds the loop's heartbeat was late."""
    started_at: float
    """Wall-clock time (``time.time()``) the stall began."""
    detail: str
    user_frame: Frame | None
    stacks: tuple[StackGroup, ...]
    """The loop thread's sampled stacks, grouped, most frequent first."""
    samples: int
    task: str | None = None
    route: str | None = None
    loop_cpu: float | None = None
    """Share (0..1) of the stall the loop thread spent on the CPU, if known."""
    gil_holder: ThreadInfo | None = None
    gc: GcPauseInfo | None = None
    overloaded: bool = False
    """The watchdog itself waited for a free CPU during the stall: the machine was
    overloaded, and the stacks (if any) and the kind are less certain."""
    under_debugger: bool = False
    """A tracer or debugger was active on the loop thread: the stall may be a breakpoint."""
    suppressed: int = 0
    """Similar stalls not logged since the previous report of this fingerprint."""
    loop: str = "main"
    fingerprint: str = field(default="")
    is_user_file: Callable[[str], bool] = field(
        default=default_is_user_file, compare=False, repr=False
    )
    """Which files are user code: :meth:`format` folds runs of the other frames
    (a monitor passes its own ``is_user_file``)."""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", _fingerprint(self))

    @property
    def line(self) -> str | None:
        """``file:line`` of the user frame, if any."""
        return self.user_frame.location if self.user_frame is not None else None

    def format(self, *, max_groups: int = 3, max_frames: int = 12) -> str:
        """A readable multi-line report: the kind, the blamed line, the task and route,
        then at most ``max_groups`` stack groups of at most ``max_frames`` entries
        each (runs of frames outside user code folded into a count)."""
        ms = self.duration * 1000
        out = [f"event loop {self.loop!r} blocked for {ms:.1f} ms: {self.kind.label}"]
        out.append(f"  why: {self.detail}")
        if self.user_frame is not None:
            out.append(f"  at {self.user_frame}")
            if src := self.user_frame.source:
                out.append(f"      {src}")
        where = []
        if self.task:
            where.append(f"task {self.task}")
        if self.route:
            where.append(f"route {self.route}")
        if where:
            out.append("  in " + ", ".join(where))
        if self.gil_holder is not None:
            holder = self.gil_holder
            cpu = f", {holder.cpu * 1000:.0f} ms on CPU" if holder.cpu is not None else ""
            out.append(f"  GIL holder: thread {holder.name!r} (ident {holder.ident}{cpu})")
            out.extend(
                _format_groups(holder.stacks, max_groups, max_frames, "    ", self.is_user_file)
            )
        if self.gc is not None:
            gc = self.gc
            out.append(
                f"  gc: generation {gc.generation}, {gc.duration * 1000:.1f} ms, "
                f"{gc.collected} collected, in thread {gc.thread!r}"
            )
        cpu_share = f", loop thread on CPU {self.loop_cpu:.0%}" if self.loop_cpu is not None else ""
        out.append(f"  loop thread stacks ({self.samples} samples{cpu_share}):")
        if self.stacks:
            out.extend(
                _format_groups(self.stacks, max_groups, max_frames, "    ", self.is_user_file)
            )
        else:
            out.append("    (none: the watchdog could not run during the stall)")
        if self.suppressed:
            out.append(f"  ({self.suppressed} similar stalls not reported since the last one)")
        if self.under_debugger:
            out.append("  (a debugger or tracer was active)")
        if self.overloaded:
            out.append("  (the machine was overloaded: the watchdog waited for a CPU)")
        out.append(f"  fingerprint {self.fingerprint}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.format()


def _format_groups(
    groups: Sequence[StackGroup],
    max_groups: int,
    max_frames: int,
    indent: str,
    is_user_file: Callable[[str], bool],
) -> list[str]:
    total = sum(g.count for g in groups) or 1
    out: list[str] = []
    for group in groups[:max_groups]:
        out.append(f"{indent}{group.count}x ({group.count / total:.0%}):")
        entries = _collapse(group.frames, is_user_file)
        if not entries:
            out.append(f"{indent}    (idle in the event loop)")
        if len(entries) > max_frames:
            hidden = sum(1 if isinstance(e, Frame) else e for e in entries[:-max_frames])
            entries = [hidden, *entries[-max_frames:]]
        for entry in entries:
            if isinstance(entry, int):
                out.append(f"{indent}    ... {entry} library frames")
                continue
            out.append(f"{indent}    {entry}")
            if src := entry.source:
                out.append(f"{indent}        {src}")
    if len(groups) > max_groups:
        rest = sum(g.count for g in groups[max_groups:])
        out.append(f"{indent}... {len(groups) - max_groups} more stacks ({rest} samples)")
    return out


def _collapse(frames: Stack, is_user_file: Callable[[str], bool]) -> list[Frame | int]:
    """Frames, with runs of two or more library frames (but not the innermost two)
    replaced by their count: framework plumbing says little about a stall."""
    entries: list[Frame | int] = []
    run: list[Frame] = []
    for i, frame in enumerate(frames):
        if i < len(frames) - 2 and not is_user_file(frame.filename):
            run.append(frame)
            continue
        entries.extend(run if len(run) < 2 else [len(run)])
        run = []
        entries.append(frame)
    entries.extend(run if len(run) < 2 else [len(run)])
    return entries


def _fingerprint(report: StallReport) -> str:
    if report.kind is StallKind.GIL and report.gil_holder is not None:
        groups = report.gil_holder.stacks
    else:
        groups = report.stacks
    parts = [report.kind.value, report.line or ""]
    if groups:
        parts.extend(str(f) for f in groups[0].frames)
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=6).hexdigest()


def wall_time_of(monotonic_at: float) -> float:
    """Convert a ``time.monotonic()`` instant to wall-clock time."""
    return time.time() - (time.monotonic() - monotonic_at)
