"""``python -m benchmarks.orm [--seconds S] [--out DIR]``: SQLAlchemy's asyncio API on
``sqlite+aiosqlite`` vs ``sqlite+loopsafe``, side by side in one run, both at their
defaults (SQLAlchemy's default pool for each: ``AsyncAdaptedQueuePool`` 5 + 10 for
aiosqlite, ``LoopsafePool`` for loopsafe).

Cases, each at 1 and 64 tasks, on a file database:

- Core point read: ``async with engine.connect() as c: await c.execute(select ... where
  id = :id)`` and ``.first()``;
- ORM point read: ``async with AsyncSession(engine) as s: await s.get(Item, id)``;
- Core insert: ``async with engine.begin() as c: await c.execute(insert(...))`` (one row,
  committed);
- ORM insert: ``async with AsyncSession(engine) as s: s.add(Log(...)); await s.commit()``.

Every case reports operations per second and the loop lag (a 2 ms heartbeat) p99 / max,
with an idle loop's lag measured in the same run. aiosqlite's connections run ``PRAGMA
synchronous = NORMAL`` (loopsafe's default durability), so both sync the same.
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
import sqlalchemy
from sqlalchemy import Integer, String, event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from benchmarks.engine._measure import HEARTBEAT, Result, drive

ROWS = 20_000
NOTE = os.environ.get("LOOPSAFE_BENCH_NOTE", "")
DRIVERS = ("aiosqlite", "loopsafe")
CASES = ("Core point read", "ORM point read", "Core insert", "ORM insert")
Op = Callable[[int], Awaitable[Any]]


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    v: Mapped[str] = mapped_column(String)


class Log(Base):
    __tablename__ = "log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    v: Mapped[str] = mapped_column(String)


def _prepare(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR)")
    conn.executemany("INSERT INTO items VALUES (?, ?)", ((i, f"v{i}") for i in range(ROWS)))
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, v VARCHAR)")
    conn.commit()
    conn.close()


def _engine(driver: str, path: Path) -> AsyncEngine:
    engine = create_async_engine(f"sqlite+{driver}:///{path}")
    if driver == "aiosqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def synchronous_normal(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

    return engine


def _op(case: str, engine: AsyncEngine) -> Op:
    read = select(Item.v).where(Item.id == sqlalchemy.bindparam("id"))
    write = insert(Log)

    async def core_read(i: int) -> None:
        async with engine.connect() as conn:
            (await conn.execute(read, {"id": i % ROWS})).first()

    async def orm_read(i: int) -> None:
        async with AsyncSession(engine) as session:
            await session.get(Item, i % ROWS)

    async def core_insert(i: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(write, {"v": f"row {i}"})

    async def orm_insert(i: int) -> None:
        async with AsyncSession(engine) as session:
            session.add(Log(v=f"row {i}"))
            await session.commit()

    return {
        "Core point read": core_read,
        "ORM point read": orm_read,
        "Core insert": core_insert,
        "ORM insert": orm_insert,
    }[case]


async def _idle(seconds: float) -> tuple[float, float]:
    lags: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        before = time.perf_counter()
        await asyncio.sleep(HEARTBEAT)
        lags.append(max(0.0, time.perf_counter() - before - HEARTBEAT))
    lags.sort()
    return lags[int(len(lags) * 0.99)] * 1000, lags[-1] * 1000


async def _case(driver: str, case: str, path: Path, tasks: int, seconds: float) -> Result:
    engine = _engine(driver, path)
    try:
        op = _op(case, engine)
        await op(0)  # connect and warm the statement cache outside the measurement
        return await drive(op, tasks, seconds)
    finally:
        await engine.dispose()


async def run(seconds: float) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    idle_p99, idle_max = await _idle(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        _prepare(path)
        for tasks in (1, 64):
            for case in CASES:
                theirs = await _case("aiosqlite", case, path, tasks, seconds)
                ours = await _case("loopsafe", case, path, tasks, seconds)
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
        "command": "python -m benchmarks.orm " + " ".join(sys.argv[1:]),
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "aiosqlite": aiosqlite.__version__,
        "cpus": os.cpu_count(),
        "seconds": seconds,
        "note": NOTE,
        "idle_lag_ms": [idle_p99, idle_max],
        "rows": rows,
    }


def report(data: dict[str, Any]) -> str:
    lines = [
        "# SQLAlchemy benchmark: sqlite+aiosqlite vs sqlite+loopsafe",
        "",
        f"`{data['command'].strip()}` — {data['when']}, Python {data['python']}, SQLite "
        f"{data['sqlite']}, SQLAlchemy {data['sqlalchemy']}, aiosqlite {data['aiosqlite']}, "
        f"{data['cpus']} CPUs, asyncio loop, {data['seconds']:g} s per case."
        + (f" Note: {data['note']}." if data["note"] else ""),
        "",
        "Both engines at their defaults, the same SQLAlchemy code with the URL changed. "
        "Operations per second; loop lag from a 2 ms heartbeat. Targets at 64 tasks: reads "
        ">= 2x, inserts >= 4x, loop lag p99 <= idle + 2 ms. An idle loop's lag in the same "
        f"run: p99 {data['idle_lag_ms'][0]:.1f} ms, max {data['idle_lag_ms'][1]:.1f} ms.",
        "",
        "| case | tasks | aiosqlite | loopsafe | loopsafe / aiosqlite "
        "| loop lag p99 / max ms (aiosqlite) | loop lag p99 / max ms (loopsafe) | errors |",
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
    parser = argparse.ArgumentParser(prog="python -m benchmarks.orm")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("results/orm"))
    args = parser.parse_args(argv)
    data = asyncio.run(run(args.seconds))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "orm.json").write_text(json.dumps(data, indent=2) + "\n")
    (args.out / "orm.md").write_text(report(data))
    print(report(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
