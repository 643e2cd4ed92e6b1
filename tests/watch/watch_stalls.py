"""Stalls of each kind, calibrated on this machine, and helpers to run a monitored loop.

Each injected call carries a ``# STALL:<kind>`` comment; tests find the expected
line numbers from those comments rather than hard-coding them, and find the report
of an injected stall by those lines in its stacks, never by its duration.

The machines the suite runs on lose the CPU to their host in 2-40 ms gaps, and to
other processes: a stall that coincides with one is measured (:class:`CpuLoss`) and
its trial is run again. Only the observation is repeated, never the assertion: a
trial that lost no CPU must come out right.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import math
import os
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

import uvloop

from loopsafe.watch import LoopMonitor, StallReport

T = TypeVar("T")

TARGET = 0.12
"""Each injected stall lasts about this long: six times the monitor's threshold (0.02)
and three times the longest pause these machines' hosts impose (40 ms), so a host
pause can neither pass for one nor, by delaying the watchdog once, change its kind."""
GC_TARGET = 0.06
"""A full collection this long (the heap it takes grows with the pause)."""
SLOW_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
    "SELECT count(*) FROM c"
)
LOOPS = ["asyncio", "uvloop"]
LOST = 0.02
"""CPU lost to the machine in a trial (run-queue wait of the loop thread, the watchdog
or a thread under test, or host steal time) from which it may tell nothing about the
stall: a sixth of the stall."""
ATTEMPTS = 20
"""Trials to get one that lost no CPU (beyond that the machine is too busy to test on)."""


@functools.cache
def marker_lines(kind: str) -> frozenset[int]:
    """Line numbers in this file tagged ``# STALL:<kind>``."""
    tag = f"# STALL:{kind}"
    lines = Path(__file__).read_text().splitlines()
    found = frozenset(i for i, line in enumerate(lines, 1) if line.rstrip().endswith(tag))
    assert found, f"no line tagged {tag}"
    return found


def run(loop_kind: str, main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` on a fresh asyncio or uvloop loop."""
    factory = uvloop.new_event_loop if loop_kind == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_call(main))


async def _call(main: Callable[[], Awaitable[T]]) -> T:
    return await main()


def _calibrate(work: Callable[[int], object], start: int, target: float = TARGET) -> int:
    """The size ``n`` for which ``work(n)`` takes about ``target`` seconds."""
    n = start
    while True:
        t0 = time.perf_counter()
        work(n)
        took = time.perf_counter() - t0
        if took >= target / 3:
            return max(1, int(n * target / took))
        n *= 2


class Stalls:
    """Calibrated stalls; build once per test session (calibration takes ~1 s)."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.sql_n = _calibrate(lambda n: self.conn.execute(SLOW_SQL, (n,)).fetchone(), 50_000)
        data = list(range(2_000_000))
        random.Random(7).shuffle(data)
        size = _calibrate(lambda n: sorted(data[:n]), 50_000)
        self.gil_data = data[:size]
        self._heap: list[list[object]] = []
        self._commands: queue.Queue[threading.Event | None] = queue.Queue()
        self._worker = threading.Thread(target=self._gil_worker, name="gil-worker", daemon=True)
        self._worker.start()

    def close(self) -> None:
        self._commands.put(None)
        self._worker.join()
        self.conn.close()
        self._heap.clear()

    # -- on the loop -------------------------------------------------------------------

    def sleep(self) -> None:
        time.sleep(TARGET)  # STALL:sleep

    def sqlite(self) -> None:
        self.conn.execute(SLOW_SQL, (self.sql_n,)).fetchone()  # STALL:sqlite

    def cpu(self) -> int:
        end = time.perf_counter() + TARGET
        n = 0
        while time.perf_counter() < end:  # STALL:cpu
            n += 1  # STALL:cpu
        return n

    def grow_heap(self) -> None:
        """Keep enough cyclic objects alive that ``gc.collect()`` takes ~GC_TARGET."""
        while True:
            t0 = time.perf_counter()
            gc.collect()
            if time.perf_counter() - t0 >= GC_TARGET:
                return
            for _ in range(50_000):
                a: list[object] = []
                b: list[object] = [a]
                a.append(b)
                self._heap.append(a)

    def drop_heap(self) -> None:
        self._heap.clear()
        gc.collect()

    def gc(self) -> None:
        gc.collect()  # STALL:gc

    # -- off the loop ------------------------------------------------------------------

    def _gil_worker(self) -> None:
        while (done := self._commands.get()) is not None:
            sorted(self.gil_data)  # STALL:gil_once
            done.set()

    def start_gil_hog(self) -> threading.Event:
        """Start a thread that keeps holding the GIL (one C call after another) until
        the returned event is set."""
        stop = threading.Event()

        def hog() -> None:
            while not stop.is_set():  # STALL:gil
                sorted(self.gil_data)  # STALL:gil

        threading.Thread(target=hog, name="gil-hog", daemon=True).start()
        return stop

    async def gil_once(self) -> None:
        """A long-lived thread runs one C call holding the GIL, then waits for work."""
        done = threading.Event()
        self._commands.put(done)
        # Polling keeps the loop idle on its own timers, with no other thread involved.
        while not done.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    async def gil_threads(self, n: int = 4, seconds: float = 0.3) -> Callable[[], None]:
        """``n`` threads spin in pure Python, taking turns with the GIL. They stay
        alive (idle) until the returned function is called, so that every stall
        can name them."""
        go, leave = threading.Event(), threading.Event()
        spun = [threading.Event() for _ in range(n)]

        def spin(done: threading.Event) -> None:
            go.wait()
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:  # STALL:spin
                pass  # STALL:spin
            done.set()
            leave.wait()

        threads = [
            threading.Thread(target=spin, args=(e,), name=f"spin-{i}") for i, e in enumerate(spun)
        ]
        # Start them all before any spins: Thread.start() waits for the new thread
        # to run, which would block the loop on the GIL the others hold.
        for t in threads:
            t.start()
        go.set()
        while not all(e.is_set() for e in spun):  # noqa: ASYNC110
            await asyncio.sleep(0.005)

        def release() -> None:
            leave.set()
            for t in threads:
                t.join()

        return release


async def settle(seconds: float = 0.03) -> None:
    """Let the heartbeat run a few times."""
    await asyncio.sleep(seconds)


async def reports_after(
    monitor: LoopMonitor, before: int, *, count: int = 1, wait: float = 1.0, quiet: float = 0.05
) -> list[StallReport]:
    """Reports added since there were ``before``, once the watchdog has caught up
    (at least ``count`` of them, unless ``wait`` seconds pass)."""
    await asyncio.sleep(quiet)
    deadline = time.monotonic() + wait
    # Reports arrive from the watchdog thread, which has nothing to wake the loop with.
    while len(monitor.reports) < before + count and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    return monitor.reports[before:]


def main_report(reports: list[StallReport]) -> StallReport:
    """The longest of the reports of one trial (the injected stall)."""
    assert reports, "no stall reported"
    return max(reports, key=lambda r: r.duration)


class CpuLoss:
    """CPU time the machine took from some threads of this process over a span: the
    longest run-queue wait of any of them (Linux schedstat), plus the host's steal
    time (``/proc/stat``; system-wide, in clock ticks, so it errs on the side of a
    retry). Zero where neither can be read."""

    def __init__(self, native_ids: Iterable[int]) -> None:
        self._ids = [i for i in native_ids if i]
        self._start = self._read()

    def _read(self) -> tuple[float, list[float]]:
        return _steal(), [_run_delay(i) for i in self._ids]

    def lost(self) -> float:
        """Seconds lost since this was created."""
        steal, waits = self._read()
        steal0, waits0 = self._start
        waited = max((b - a for a, b in zip(waits0, waits, strict=True)), default=0.0)
        return max(0.0, steal - steal0) + waited


def _steal() -> float:
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _run_delay(native_id: int) -> float:
    try:
        with open(f"/proc/self/task/{native_id}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def watched_threads(monitor: LoopMonitor, *others: str) -> list[int]:
    """Native ids of the calling (loop) thread, the monitor's watchdog and the threads
    named in ``others``."""
    names = {f"loopsafe-watch-{monitor.name}", *others}
    ids = [threading.get_native_id()]
    ids += [t.native_id for t in threading.enumerate() if t.name in names and t.native_id]
    return ids


def shows(report: StallReport, tag: str) -> bool:
    """Whether a report's blamed line or any of its stacks (the loop thread's or the
    GIL holder's) is a line of this file tagged ``# STALL:<tag>``."""
    lines = marker_lines(tag)
    frames = [f for g in report.stacks for f in g.frames]
    if report.gil_holder is not None:
        frames += [f for g in report.gil_holder.stacks for f in g.frames]
    if report.user_frame is not None:
        frames.append(report.user_frame)
    return any(f.lineno in lines and f.filename == __file__ for f in frames)


def checked(
    trial: Callable[[], tuple[T, float]],
    check: Callable[[T], object],
    *,
    lost: float = LOST,
    attempts: int = ATTEMPTS,
) -> T:
    """Run ``trial`` (which returns its result and the CPU it lost to the machine)
    and ``check`` its result. A trial that lost less than ``lost`` seconds must pass
    the check; one that lost more and failed it is observed again, up to ``attempts``
    times in all."""
    failures: list[str] = []
    for _ in range(attempts):
        result, seconds = trial()
        if _passes(check, result, seconds, lost, failures):
            return result
    raise _every_trial_failed(failures)


def _passes(
    check: Callable[[T], object], result: T, seconds: float, lost: float, failures: list[str]
) -> bool:
    """Whether ``result`` passes ``check``; a failure raises unless the trial lost at
    least ``lost`` seconds of CPU, in which case it is noted in ``failures``."""
    try:
        check(result)
    except AssertionError as e:
        if seconds < lost:
            raise
        failures.append(f"({_lost(seconds)}) {e}")
        return False
    return True


def _every_trial_failed(failures: list[str]) -> AssertionError:
    return AssertionError("every trial lost CPU to the machine and failed:\n" + "\n".join(failures))


def _lost(seconds: float) -> str:
    return "no sample taken" if math.isinf(seconds) else f"{seconds * 1000:.0f} ms of CPU lost"


async def checked_async(
    trial: Callable[[], Awaitable[tuple[T, float]]],
    check: Callable[[T], object],
    *,
    lost: float = LOST,
    attempts: int = ATTEMPTS,
) -> T:
    """:func:`checked` for a trial run on the loop."""
    failures: list[str] = []
    for _ in range(attempts):
        result, seconds = await trial()
        if _passes(check, result, seconds, lost, failures):
            return result
    raise _every_trial_failed(failures)


async def run_trial(
    monitor: LoopMonitor, inject: Callable[[], object], threads: tuple[str, ...] = ()
) -> tuple[list[StallReport], float]:
    """One trial: inject a stall; its reports and the CPU the machine took meanwhile."""
    await settle()
    before = len(monitor.reports)
    loss = CpuLoss(watched_threads(monitor, *threads))
    result = inject()
    if inspect.isawaitable(result):
        await result
    reports = await reports_after(monitor, before)
    return reports, loss.lost()


def injected(reports: list[StallReport], tag: str) -> StallReport:
    """The report of the injected stall: the one whose stacks show a line tagged
    ``tag`` (the longest, if several do)."""
    found = [r for r in reports if shows(r, tag)]
    assert found, "no report shows the injected stall:\n\n" + "\n\n".join(
        r.format() for r in reports
    )
    return max(found, key=lambda r: r.duration)


async def observe(
    monitor: LoopMonitor,
    inject: Callable[[], object],
    tag: str,
    check: Callable[[StallReport], object] = lambda report: None,
    *,
    threads: tuple[str, ...] = (),
) -> StallReport:
    """The report of an injected stall (see :func:`injected`), which must pass
    ``check`` unless the machine disturbed its trial (see :func:`checked`; CPU lost
    by the loop thread, the watchdog or the named ``threads``; a trial in which the
    watchdog could not take a single sample counts as disturbed)."""

    def check_injected(reports: list[StallReport]) -> None:
        check(injected(reports, tag))

    async def trial() -> tuple[list[StallReport], float]:
        reports, lost = await run_trial(monitor, inject, threads)
        if not any(shows(r, tag) for r in reports) and any(not r.samples for r in reports):
            # The watchdog could not run at all during a stall that releases the GIL
            # or lets it go every switch interval: the machine held it back, so the
            # trial observed nothing.
            lost = math.inf
        return reports, lost

    return injected(await checked_async(trial, check_injected), tag)
