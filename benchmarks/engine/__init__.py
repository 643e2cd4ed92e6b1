"""``python -m benchmarks.engine``: the engine against the other ways to reach SQLite.

Point reads by primary key and one-row writes (each await returns after its commit), at 1,
64 and 256 concurrent tasks, side by side in one process on the same kind of file, with the
event loop's lag measured during every case. Prints a table with ratios against aiosqlite
and against synchronous sqlite3 in one thread (the limit); writes JSON and Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sqlite3
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from benchmarks.engine._cases import CONTENDERS, create_file, raw_limit
from benchmarks.engine._measure import drive
from benchmarks.engine._report import render_markdown, render_table


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
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as progress:
        path = Path(tmp) / "bench.db"
        bar = progress.add_task("engine benchmark", total=len(plan) + 3 * len(kinds))
        for kind in kinds:
            for durability in ["NORMAL"] if kind == "read" else ["NORMAL", "FULL"]:
                create_file(path, durability)
                ops, elapsed = raw_limit(path, durability, kind, seconds)
                limits[f"{kind}/{durability}"] = ops / elapsed
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
    report = {
        "benchmark": "engine",
        "command": "python -m benchmarks.engine " + " ".join(argv),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(args.loop),
        "seconds_per_case": seconds,
        "raw_limit_ops_per_s": {k: round(v, 1) for k, v in limits.items()},
        "results": results,
    }
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

    if loop_name == "uvloop":
        import uvloop

        return uvloop.run(case())
    return asyncio.run(case())


def _machine(loop_name: str) -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "event_loop": loop_name,
    }
