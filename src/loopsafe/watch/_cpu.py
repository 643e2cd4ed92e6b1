"""Per-thread CPU time, readable from any thread (Linux; elsewhere unknown)."""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

_LINUX = sys.platform.startswith("linux")


def thread_clock(native_id: int) -> int | None:
    """The kernel's CPU-time clock id for thread ``native_id`` (Linux only).

    Linux encodes a thread's CPU clock as ``(~tid << 3) | CPUCLOCK_PERTHREAD |
    CPUCLOCK_SCHED``; built from the tid rather than with ``pthread_getcpuclockid``,
    reading it after the thread exited fails with EINVAL instead of touching a
    freed thread descriptor.
    """
    if not _LINUX:
        return None
    return (~native_id << 3) | 6


def read_clock(clock: int | None) -> float | None:
    """Seconds of CPU the clock's thread has used, or None if unknown or exited."""
    if clock is None:
        return None
    try:
        return time.clock_gettime(clock)
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds used so far by each live thread, at a monotonic instant."""

    at: float
    cpu: dict[int, float]
    """thread ident -> CPU seconds."""
    names: dict[int, str]
    process: float
    """CPU seconds of the whole process (exited and non-Python threads included)."""


class ThreadCpu:
    """Reads every Python thread's CPU clock (about a microsecond each)."""

    def __init__(self) -> None:
        self._clocks: dict[int, int | None] = {}

    @property
    def supported(self) -> bool:
        """Whether per-thread CPU time can be read on this platform."""
        return _LINUX

    def snapshot(self) -> CpuSnapshot:
        """CPU time of all threads now."""
        cpu: dict[int, float] = {}
        names: dict[int, str] = {}
        clocks = self._clocks
        if _LINUX:
            for thread in threading.enumerate():
                ident, native = thread.ident, thread.native_id
                if ident is None or native is None:
                    continue
                clock = clocks.get(native)
                if clock is None:
                    clock = clocks[native] = thread_clock(native)
                value = read_clock(clock)
                if value is not None:
                    cpu[ident] = value
                    names[ident] = thread.name
            if len(clocks) > 4 * len(cpu) + 64:
                clocks.clear()
        return CpuSnapshot(time.monotonic(), cpu, names, time.process_time())


def deltas(before: CpuSnapshot, after: CpuSnapshot) -> dict[int, float]:
    """CPU seconds each thread used between two snapshots (new threads: all of theirs)."""
    return {ident: value - before.cpu.get(ident, 0.0) for ident, value in after.cpu.items()}


def unattributed(before: CpuSnapshot, after: CpuSnapshot, used: dict[int, float]) -> float:
    """CPU seconds of the process that no live Python thread accounts for: threads
    that exited in between, or threads Python does not know (C libraries' own)."""
    return max(0.0, (after.process - before.process) - sum(used.values()))


class RunQueueClock:
    """The calling thread's time spent runnable but not running (Linux schedstat).

    Tells a watchdog woken late because it waited for the GIL (not on the run
    queue) from one woken late because no CPU was free (an overloaded machine).
    Open it on the thread it measures. Reading releases the GIL (it is file I/O):
    never read it while the loop is stalled, or the watchdog loses its turn.
    """

    def __init__(self, *, open_now: bool = True) -> None:
        self._fd: int | None = None
        if _LINUX and open_now:
            try:
                self._fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
            except OSError:
                self._fd = None

    def read(self) -> float | None:
        """Seconds this thread has waited for a CPU so far, or None if unknown."""
        if self._fd is None:
            return None
        try:
            return int(os.pread(self._fd, 64, 0).split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
