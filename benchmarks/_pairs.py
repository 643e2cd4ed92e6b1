"""What the two-contender benchmarks share (``benchmarks.compat``, ``benchmarks.orm``): the
table they read, an idle loop's lag in the same run, one row per case with both sides'
rate and lag, the Markdown table of those rows, and writing the results."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.engine._measure import HEARTBEAT, Result

ROWS = 20_000
NOTE = os.environ.get("LOOPSAFE_BENCH_NOTE", "")


def prepare(path: Path) -> None:
    """``items`` (ROWS rows to read by id) and an empty ``log`` to insert into, in WAL mode."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR)")
    conn.executemany("INSERT INTO items VALUES (?, ?)", ((i, f"v{i}") for i in range(ROWS)))
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, v VARCHAR)")
    conn.commit()
    conn.close()


async def idle_lag(seconds: float) -> tuple[float, float]:
    """An idle loop's heartbeat lag (p99, max) in ms: the floor every case is judged by."""
    lags: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        before = time.perf_counter()
        await asyncio.sleep(HEARTBEAT)
        lags.append(max(0.0, time.perf_counter() - before - HEARTBEAT))
    lags.sort()
    return lags[int(len(lags) * 0.99)] * 1000, lags[-1] * 1000


def row(case: str, tasks: int, theirs: Result, ours: Result) -> dict[str, Any]:
    """One case's line: aiosqlite's side, loopsafe's, their ratio, errors and lags."""
    print(f"{case} x{tasks}: {theirs.rate:,.0f} vs {ours.rate:,.0f}", file=sys.stderr)
    return {
        "case": case,
        "tasks": tasks,
        "aiosqlite": theirs.rate,
        "loopsafe": ours.rate,
        "ratio": ours.rate / theirs.rate if theirs.rate else 0.0,
        "errors": [theirs.errors, ours.errors],
        "lag_ms": {
            "aiosqlite": [theirs.lag_p99_ms, theirs.lag_max_ms],
            "loopsafe": [ours.lag_p99_ms, ours.lag_max_ms],
        },
    }


def run_info(module: str, seconds: float, **versions: str) -> dict[str, Any]:
    """The command, the time and the software a run was made with."""
    return {
        "command": f"python -m {module} " + " ".join(sys.argv[1:]),
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        **versions,
        "cpus": os.cpu_count(),
        "seconds": seconds,
        "note": NOTE,
    }


def table(data: dict[str, Any], ours: str) -> list[str]:
    """The rows as a Markdown table, loopsafe's side headed ``ours``."""
    lines = [
        f"| case | tasks | aiosqlite | {ours} | {ours} / aiosqlite "
        f"| loop lag p99 / max ms (aiosqlite) | loop lag p99 / max ms ({ours}) | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for line in data["rows"]:
        theirs_lag, ours_lag = line["lag_ms"]["aiosqlite"], line["lag_ms"]["loopsafe"]
        lines.append(
            f"| {line['case']} | {line['tasks']} | {line['aiosqlite']:,.0f} | "
            f"{line['loopsafe']:,.0f} | {line['ratio']:.2f}x | "
            f"{theirs_lag[0]:.1f} / {theirs_lag[1]:.1f} | {ours_lag[0]:.1f} / {ours_lag[1]:.1f} "
            f"| {line['errors'][0]} / {line['errors'][1]} |"
        )
    return lines


def save(
    out: Path, name: str, data: dict[str, Any], report: Callable[[dict[str, Any]], str]
) -> None:
    """Write ``name.json`` and ``name.md`` under ``out`` and print the report."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / f"{name}.md").write_text(report(data))
    print(report(data))
