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
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite

import loopsafe.compat.aiosqlite as adapter
from benchmarks._pairs import ROWS, idle_lag, prepare, row, run_info, save, table
from benchmarks.engine._measure import Result, drive

Op = Callable[[int], Awaitable[Any]]


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
    idle_p99, idle_max = await idle_lag(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        prepare(path)
        for tasks in (1, 64):
            for case in ("point read", "INSERT + commit", AUTOCOMMIT):
                theirs = await _case(aiosqlite, case, path, tasks, seconds)
                ours = await _case(adapter, case, path, tasks, seconds)
                rows.append(row(case, tasks, theirs, ours))
    info = run_info("benchmarks.compat", seconds, aiosqlite=aiosqlite.__version__)
    return {**info, "idle_lag_ms": [idle_p99, idle_max], "rows": rows}


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
    ]
    lines += table(data, "adapter")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compat")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("results/compat"))
    args = parser.parse_args(argv)
    save(args.out, "compat", asyncio.run(run(args.seconds)), report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
