"""``python -m benchmarks.http``: run every mode, measure, write the report.

For each read kind and mode: start a server, warm it up, measure ``/health``
with no DB load (the baseline), find the mode's capacity (the highest DB rate it
sustains with DB p99 <= 50 ms and >= 95% of requests answered 2xx), then run each
load level (a fraction of that capacity) with ``/health`` at a fixed rate beside
it. The first server also measures the load generator's own ceiling.
"""

from __future__ import annotations

import math
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks.http import _hist, dataset, report
from benchmarks.http._progress import Progress
from benchmarks.http._settings import Settings, parse_args
from benchmarks.http.loadgen import Job, TargetSpec
from benchmarks.http.procs import Loadgen, ProcessError, Processes, Sampler, Server, get

__all__ = ["Bench", "main", "verdict"]

P99_LIMIT_MS = 50.0
ACHIEVED_MIN = 0.95
MAX_CONNS = 1024  # per target: far above what a healthy server needs, a cap for sick ones


def verdict(db: dict[str, Any]) -> tuple[bool, str]:
    """Whether a DB-route measurement counts as sustained, and why not."""
    share = db["ok"] / db["sent"] if db["sent"] else 0.0
    if share < ACHIEVED_MIN:
        return False, f"only {share:.0%} answered 2xx"
    if db["ok_latency"]["p99"] > P99_LIMIT_MS:
        return False, f"p99 {db['ok_latency']['p99']:.0f} ms"
    return True, "sustained"


def _nice(rate: float) -> float:
    """Two significant digits: rates people can read and repeat."""
    return float(f"{rate:.2g}")


def _target(raw: dict[str, Any]) -> dict[str, Any]:
    hists = {k: _hist.decode(raw[f"hist_{k}"]) for k in ("all", "ok", "shed", "lag")}
    keep = (
        *("rate", "sent", "ok", "shed", "errors", "timeouts", "connect_errors", "statuses"),
        *("achieved", "max_in_flight", "max_waiting", "queued_on_client"),
    )
    return {
        **{k: raw[k] for k in keep},
        "latency": _hist.summary(hists["all"]),
        "ok_latency": _hist.summary(hists["ok"]),
        "shed_latency": _hist.summary(hists["shed"]),
        "lag": _hist.summary(hists["lag"]),
        "cdf": _hist.cdf(hists["ok"] if raw["kind"] == "db" else hists["all"]),
    }


class Bench:
    """Measurements against one server at a time, through one load generator."""

    def __init__(self, settings: Settings, loadgen: Loadgen, progress: Progress) -> None:
        self.settings = settings
        self.loadgen = loadgen
        self.progress = progress

    def measure(
        self,
        server: Server,
        db_rate: float,
        duration: float,
        health_rate: float | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One job: the DB route at ``db_rate`` and /health at ``health_rate``."""
        s = self.settings
        health_rate = s.health_rate if health_rate is None else health_rate
        targets = [
            TargetSpec("db", "db", db_rate, s.rows, s.write_share, MAX_CONNS),
            TargetSpec("health", "health", health_rate, max_conns=MAX_CONNS),
        ]
        job = Job(
            port=server.port,
            duration=duration,
            targets=tuple(t for t in targets if t.rate > 0),
            timeout=s.request_timeout if timeout is None else timeout,
            seed=s.seed,
        )
        with Sampler(server.proc.pid) as sampler:
            raw = self.loadgen.run(job)
        found = {name: _target(t) for name, t in raw["targets"].items()}
        return {
            "offered_db": db_rate,
            "health_rate": health_rate,
            "duration": duration,
            "db": found.get("db"),
            "health": found.get("health"),
            "server": sampler.as_dict(),
            "loadgen": {
                "cpu": raw["cpu_seconds"] / raw["elapsed"],
                "cpu_seconds": raw["cpu_seconds"],
            },
        }

    def settle(self, server: Server, limit: float = 30.0) -> float:
        """Wait until a DB read answers 200 in < 50 ms twice in a row (backlogs drained)."""
        start = time.monotonic()
        good = 0
        while good < 2 and time.monotonic() - start < limit:
            t = time.perf_counter()
            try:
                status, _ = get(server.port, "/db/read?k=0", timeout=5.0)
            except OSError:
                status = 0
            fast = status == 200 and time.perf_counter() - t < P99_LIMIT_MS / 1e3
            good = good + 1 if fast else 0
            time.sleep(0.05)
        return time.monotonic() - start

    def capacity(self, server: Server, label: str) -> dict[str, Any]:
        """Ramp the DB rate (x2 from 100/s) to the first failure, then bisect."""
        s = self.settings
        steps: list[dict[str, Any]] = []

        def step(rate: float) -> bool:
            self.progress.note(f"{label}: capacity? trying {rate:g} req/s")
            m = self.measure(server, rate, s.step_duration, timeout=1.0)
            ok, why = verdict(m["db"])
            steps.append(
                {
                    "rate": rate,
                    "sustained": ok,
                    "why": why,
                    "achieved": m["db"]["achieved"],
                    "db_p99": m["db"]["ok_latency"]["p99"],
                    "health_p99": m["health"]["latency"]["p99"],
                    "server_cpu": m["server"]["cpu"],
                    "loadgen_cpu": m["loadgen"]["cpu"],
                }
            )
            self.settle(server)
            return ok

        good, bad = _search(step, start=100.0, floor=5.0, ceiling=s.max_rate, refine=s.refine)
        return {"rate": good, "first_failed": bad, "steps": steps}

    def loadgen_ceiling(self, server: Server) -> dict[str, Any]:
        """The highest /health-only rate this generator and server sustain together."""
        steps: list[dict[str, Any]] = []
        best: dict[str, Any] | None = None
        rate = min(1000.0, self.settings.max_rate)
        while rate <= self.settings.max_rate:
            self.progress.note(f"load generator check: /health at {rate:g} req/s")
            m = self.measure(
                server, 0.0, self.settings.step_duration, health_rate=rate, timeout=1.0
            )
            h = m["health"]
            sent = max(1, h["sent"])
            row = {
                "rate": rate,
                "achieved": h["achieved"],
                "p99": h["latency"]["p99"],
                "lag_p99": h["lag"]["p99"],
                "loadgen_cpu": m["loadgen"]["cpu"],
                "loadgen_us_per_request": m["loadgen"]["cpu_seconds"] / sent * 1e6,
                "server_cpu": m["server"]["cpu"],
            }
            steps.append(row)
            self.settle(server)
            if h["ok"] < ACHIEVED_MIN * h["sent"] or h["latency"]["p99"] > P99_LIMIT_MS:
                break
            best = row
            rate *= 2
        return {"max_rate": best["rate"] if best else 0.0, "at_max": best, "steps": steps}

    def run_mode(
        self, server: Server, label: str, borrowed: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Baseline, capacity and every load level for one server.

        ``borrowed``: another mode's capacity, so both are driven at the same rates.
        """
        s = self.settings
        self.progress.note(f"{label}: baseline (no DB load)")
        baseline = self.measure(server, 0.0, s.duration)
        self.progress.advance()
        if s.capacity is not None:
            capacity: dict[str, Any] = {"rate": s.capacity, "first_failed": None, "steps": []}
        elif borrowed is not None:
            capacity = {**borrowed, "borrowed": True}
        else:
            capacity = self.capacity(server, label)
        self.progress.advance()
        levels = []
        for level in s.levels:
            rate = round(level * capacity["rate"], 1)
            if rate <= 0:
                self.progress.advance()
                continue
            self.progress.note(f"{label}: {level:.0%} of capacity = {rate:g} req/s")
            m = self.measure(server, rate, s.duration)
            m["level"] = level
            m["settle_seconds"] = self.settle(server)
            levels.append(m)
            self.progress.advance()
        return {
            "server": server.config,
            "baseline": baseline,
            "capacity": capacity,
            "levels": levels,
        }


def _search(
    step: Callable[[float], bool], start: float, floor: float, ceiling: float, refine: int
) -> tuple[float, float | None]:
    """(highest passing rate found, lowest failing rate found)."""
    good: float = 0.0
    bad: float | None = None
    rate = start
    while True:
        if step(rate):
            good = rate
            if rate * 2 > ceiling:
                return good, bad
            rate *= 2
        else:
            bad = rate
            break
    while good == 0.0 and rate / 2 >= floor:
        rate /= 2
        if step(rate):
            good = rate
        else:
            bad = rate
    for _ in range(refine):
        if good == 0.0 or bad is None:
            break
        mid = _nice(math.sqrt(good * bad))
        if mid in (good, bad):
            break
        if step(mid):
            good = mid
        else:
            bad = mid
    return good, bad


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (``argv``: the command line, default ``sys.argv[1:]``); returns the
    exit code."""
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    if settings.replot:
        paths = report.write(report.load(settings.out), settings.out)
        print("\n".join(str(p) for p in paths))
        return 0
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    workdir = Path(tempfile.mkdtemp(prefix="loopsafe-bench-http-"))
    results = report.new_results(settings, datetime.now(UTC))
    code = 0
    try:
        code = _run(settings, workdir, results)
    except KeyboardInterrupt:
        results["meta"]["interrupted"] = True
        code = 130
    except ProcessError as exc:
        print(f"benchmarks.http: {exc}", file=sys.stderr)
        results["meta"]["interrupted"] = True
        results["meta"]["error"] = str(exc)
        code = 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(workdir, ignore_errors=True)
    results["meta"]["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    paths = report.write(results, settings.out)
    print(f"results: {', '.join(str(p) for p in paths)}")
    return code


def _run(settings: Settings, workdir: Path, results: dict[str, Any]) -> int:
    base = workdir / "bench.db"
    info = dataset.build_for_scan(
        base, rows=settings.rows, seed=settings.seed, scan_ms=settings.scan_ms
    )
    settings = replace(settings, rows=info.rows)  # the load generator's keys cover every row
    results["meta"]["dataset"] = {
        "rows": info.rows,
        "seed": info.seed,
        "size_bytes": info.size_bytes,
        "point_ms": info.point_ms,
        "scan_ms": info.scan_ms,
    }
    units = len(settings.reads) * len(settings.modes) * (2 + len(settings.levels))
    with (
        Processes(workdir) as procs,
        Progress(units + settings.loadgen_check, settings.progress) as progress,
    ):
        bench = Bench(settings, procs.start_loadgen(), progress)
        check = settings.loadgen_check
        for read in settings.reads:
            for mode in settings.modes:
                label = f"{read}/{mode}"
                progress.note(f"{label}: starting server")
                db = workdir / f"{read}-{mode}.db"
                shutil.copyfile(base, db)
                server = procs.start_server(mode, read, db, settings.rows)
                try:
                    bench.measure(server, 20.0, 0.5)  # warm-up, not recorded
                    bench.settle(server)
                    if check:
                        results["meta"]["loadgen_check"] = bench.loadgen_ceiling(server)
                        progress.advance()
                        check = False
                    runs = results["reads"].setdefault(read, {"modes": {}})["modes"]
                    # The monitor's cost is measured at exactly loopsafe's rates.
                    borrowed = (
                        runs["loopsafe"]["capacity"]
                        if mode == "loopsafe-watch" and ("loopsafe" in runs)
                        else None
                    )
                    runs[mode] = bench.run_mode(server, label, borrowed)
                finally:
                    procs.stop(server.proc)
    return 0
