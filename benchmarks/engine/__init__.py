"""``python -m benchmarks.engine``: the engine against the other ways to reach SQLite.

Point reads by primary key and one-row writes (each await returns after its commit), at 1,
64 and 256 concurrent tasks, side by side in one process on the same kind of file, with the
event loop's lag measured during every case. Beside them, in the same run: synchronous
sqlite3 in one thread (reads; writes at 1, 64 and 256 rows per transaction), asyncio's own
future round-trip rate at each concurrency on asyncio and uvloop (the ceiling of any async
bridge), and an idle loop's lag (before and after the cases). loopsafe runs at its
defaults; ``loopsafe inline=False`` (the fast path off) is labelled beside it. Prints a
table with ratios and the issue's targets; writes JSON and Markdown. Set
``LOOPSAFE_BENCH_NOTE`` to record how the machine was shared.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import sqlite3
import tempfile
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.engine._cases import CONTENDERS, create_file, raw_limit
from benchmarks.engine._measure import drive, future_round_trips, idle_lag
from benchmarks.engine._report import render_markdown, render_table, targets

T = TypeVar("T")
RAW_BATCHES = [1, 64, 256]  # rows per transaction of the raw sqlite3 write limits


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each case")
    parser.add_argument("--tasks", default="1,64,256", help="concurrent tasks, comma separated")
    parser.add_argument("--quick", action="store_true", help="0.5 s per case (a smoke run)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--only", choices=["read", "write"], help="run one half only")
    parser.add_argument("--out", type=Path, default=Path("results/engine"))
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the benchmark; returns a process exit code."""
    args = _parse(argv)
    seconds = 0.5 if args.quick else args.seconds
    tasks = [int(t) for t in args.tasks.split(",") if t.strip()]
    kinds = [args.only] if args.only else ["read", "write"]
    plan: list[tuple[str, str, int, str]] = []
    for kind in kinds:
        for durability in ["NORMAL"] if kind == "read" else ["NORMAL", "FULL"]:
            for n in tasks:
                plan.extend((kind, durability, n, c.name) for c in CONTENDERS if kind in c.kinds)
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    results: list[dict[str, Any]] = []
    limits: dict[str, float] = {}
    ceilings: dict[str, float] = {}
    idle: list[dict[str, float]] = []
    loops = ["asyncio", "uvloop"]
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as progress:
        path = Path(tmp) / "bench.db"
        total = len(plan) + 7 * len(kinds) + len(loops) * len(tasks) + 2
        bar = progress.add_task("engine benchmark", total=total)
        progress.update(bar, description="idle loop lag")
        idle.append(_idle(args.loop, seconds))
        progress.advance(bar)
        for kind in kinds:
            for durability in ["NORMAL"] if kind == "read" else ["NORMAL", "FULL"]:
                for per_tx in [1] if kind == "read" else RAW_BATCHES:
                    progress.update(bar, description=f"raw {kind} {durability} x{per_tx}")
                    create_file(path, durability)
                    ops, elapsed = raw_limit(path, durability, kind, seconds, per_tx)
                    key = f"{kind}/{durability}" + (f"/{per_tx}" if per_tx > 1 else "")
                    limits[key] = ops / elapsed
                    progress.advance(bar)
        for loop_name in loops:
            for n in tasks:
                progress.update(bar, description=f"{loop_name} futures {n} tasks")
                ceilings[f"{loop_name}/{n}"] = _run_loop(
                    loop_name, functools.partial(future_round_trips, n, seconds)
                )
                progress.advance(bar)
        for kind, durability, n, name in plan:
            progress.update(bar, description=f"{kind} {durability} {n:>3} tasks {name}")
            create_file(path, durability)
            result = _run(args.loop, name, path, durability, kind, n, seconds)
            results.append(
                {
                    "kind": kind,
                    "durability": durability,
                    "tasks": n,
                    "contender": name,
                    "ops_per_s": round(result.rate, 1),
                    "errors": result.errors,
                    "loop_lag_p99_ms": round(result.lag_p99_ms, 3),
                    "loop_lag_max_ms": round(result.lag_max_ms, 3),
                }
            )
            progress.advance(bar)
        progress.update(bar, description="idle loop lag, again")
        idle.append(_idle(args.loop, seconds))
        progress.advance(bar)
    report = {
        "benchmark": "engine",
        "command": "python -m benchmarks.engine " + " ".join(argv),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(args.loop),
        "seconds_per_case": seconds,
        "note": os.environ.get("LOOPSAFE_BENCH_NOTE", ""),
        "raw_limit_ops_per_s": {k: round(v, 1) for k, v in limits.items()},
        "future_round_trips_per_s": {k: round(v, 1) for k, v in ceilings.items()},
        "idle_loop_lag_ms": idle,
        "results": results,
    }
    report["targets"] = targets(report)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = f"-{args.loop}" if args.loop != "asyncio" else ""
    (args.out / f"engine{suffix}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"engine{suffix}.md").write_text(render_markdown(report))
    console.print(render_table(report))
    return 0


def _run(
    loop_name: str, name: str, path: Path, durability: str, kind: str, n: int, s: float
) -> Any:
    contender = next(c for c in CONTENDERS if c.name == name)

    async def case() -> Any:
        async with AsyncExitStack() as stack:
            op = await contender.setup(stack, path, durability, kind)
            return await drive(op, n, s)

    return _run_loop(loop_name, case)


def _idle(loop_name: str, seconds: float) -> dict[str, float]:
    lag = _run_loop(loop_name, functools.partial(idle_lag, seconds))
    return {"p99": round(lag.lag_p99_ms, 3), "max": round(lag.lag_max_ms, 3)}


def _run_loop(loop_name: str, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    if loop_name == "uvloop":
        import uvloop

        return uvloop.run(make())
    return asyncio.run(make())


def _machine(loop_name: str) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "event_loop": loop_name,
    }
