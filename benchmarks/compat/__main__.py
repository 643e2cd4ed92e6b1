"""``python -m benchmarks.compat [--seconds S] [--out DIR]``: loopsafe.compat.aiosqlite vs
aiosqlite, side by side in one run, loopsafe at its defaults.

Cases, each at 1 and 64 tasks:

- point read: ``async with conn.execute(SELECT ... WHERE id = ?) as cur: await
  cur.fetchone()`` on one connection shared by the tasks (aiosqlite's best: one thread);
- INSERT + commit: each task its own connection (a DB-API transaction belongs to its
  connection), ``execute(INSERT)`` then ``commit()``, sqlite3's default implicit
  transactions — what an ORM session does;
- INSERT autocommit (``isolation_level=None``), each task its own connection: labelled
  beside the others.

Every case reports operations per second and the loop lag (a 2 ms heartbeat) p99 / max,
with an idle loop's lag measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

import loopsafe.compat.aiosqlite as adapter
from benchmarks.engine._measure import HEARTBEAT, Result, drive

ROWS = 20_000
NOTE = os.environ.get("LOOPSAFE_BENCH_NOTE", "")
Op = Callable[[int], Awaitable[Any]]


def _prepare(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO items VALUES (?, ?)", ((i, f"v{i}") for i in range(ROWS)))
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, v TEXT)")
    conn.commit()
    conn.close()


async def _idle(seconds: float) -> tuple[float, float]:
    lags: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        before = time.perf_counter()
        await asyncio.sleep(HEARTBEAT)
        lags.append(max(0.0, time.perf_counter() - before - HEARTBEAT))
    lags.sort()
    return lags[int(len(lags) * 0.99)] * 1000, lags[-1] * 1000


async def _connect(module: Any, path: Path, isolation: str | None = "") -> Any:
    conn = await module.connect(path, isolation_level=isolation)
    if module is aiosqlite:
        # loopsafe's default durability, so both commit with the same syncs.
        await conn.execute("PRAGMA synchronous = NORMAL")
    return conn


async def _reads(module: Any, path: Path, tasks: int, seconds: float) -> Result:
    conn = await _connect(module, path)
    try:

        async def op(i: int) -> None:
            async with conn.execute("SELECT v FROM items WHERE id = ?", (i % ROWS,)) as cur:
                await cur.fetchone()

        return await drive(op, tasks, seconds)
    finally:
        await conn.close()


async def _inserts(
    module: Any, path: Path, tasks: int, seconds: float, isolation: str | None
) -> Result:
    conns = [await _connect(module, path, isolation) for _ in range(tasks)]
    try:

        async def op(i: int) -> None:
            conn = conns[(i // 7919) % tasks]  # drive() gives task n the numbers n*7919...
            await conn.execute("INSERT INTO log (v) VALUES (?)", (f"row {i}",))
            await conn.commit()

        return await drive(op, tasks, seconds)
    finally:
        for conn in conns:
            await conn.close()


AUTOCOMMIT = "INSERT autocommit (isolation_level=None)"


async def _case(module: Any, case: str, path: Path, tasks: int, seconds: float) -> Result:
    if case == "point read":
        return await _reads(module, path, tasks, seconds)
    return await _inserts(module, path, tasks, seconds, None if case == AUTOCOMMIT else "")


async def run(seconds: float) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    idle_p99, idle_max = await _idle(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        _prepare(path)
        cases = [
            (case, tasks)
            for tasks in (1, 64)
            for case in ("point read", "INSERT + commit", AUTOCOMMIT)
        ]
        for case, tasks in cases:
            theirs = await _case(aiosqlite, case, path, tasks, seconds)
            ours = await _case(adapter, case, path, tasks, seconds)
            rows.append(
                {
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
            )
            print(f"{case} x{tasks}: {theirs.rate:,.0f} vs {ours.rate:,.0f}", file=sys.stderr)
    return {
        "command": "python -m benchmarks.compat " + " ".join(sys.argv[1:]),
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "aiosqlite": aiosqlite.__version__,
        "cpus": os.cpu_count(),
        "seconds": seconds,
        "note": NOTE,
        "idle_lag_ms": [idle_p99, idle_max],
        "rows": rows,
    }


def report(data: dict[str, Any]) -> str:
    lines = [
        "# aiosqlite adapter benchmark",
        "",
        f"`{data['command'].strip()}` — {data['when']}, Python {data['python']}, SQLite "
        f"{data['sqlite']}, aiosqlite {data['aiosqlite']}, {data['cpus']} CPUs, asyncio loop, "
        f"{data['seconds']:g} s per case." + (f" Note: {data['note']}." if data["note"] else ""),
        "",
        "`loopsafe.compat.aiosqlite` (loopsafe at its defaults) against aiosqlite, the same "
        "code with the module swapped. Point reads: one connection shared by the tasks. "
        "INSERT + commit: one connection per task, sqlite3's default implicit transaction "
        "(an ORM session's write). aiosqlite's connections run `PRAGMA synchronous = NORMAL`, "
        "loopsafe's default durability, so both sync the same. Operations per second; loop "
        "lag from a 2 ms heartbeat. "
        f"An idle loop's lag in the same run: p99 {data['idle_lag_ms'][0]:.1f} ms, max "
        f"{data['idle_lag_ms'][1]:.1f} ms.",
        "",
        "| case | tasks | aiosqlite | loopsafe adapter | adapter / aiosqlite "
        "| loop lag p99 / max ms (aiosqlite) | loop lag p99 / max ms (adapter) | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        theirs, ours = row["lag_ms"]["aiosqlite"], row["lag_ms"]["loopsafe"]
        lines.append(
            f"| {row['case']} | {row['tasks']} | {row['aiosqlite']:,.0f} | "
            f"{row['loopsafe']:,.0f} | {row['ratio']:.2f}x | {theirs[0]:.1f} / {theirs[1]:.1f} "
            f"| {ours[0]:.1f} / {ours[1]:.1f} | {row['errors'][0]} / {row['errors'][1]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compat")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("results/compat"))
    args = parser.parse_args(argv)
    data = asyncio.run(run(args.seconds))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compat.json").write_text(json.dumps(data, indent=2) + "\n")
    (args.out / "compat.md").write_text(report(data))
    print(report(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
