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
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import sqlalchemy
from sqlalchemy import Integer, String, event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from benchmarks._pairs import ROWS, idle_lag, prepare, row, run_info, save, table
from benchmarks.engine._measure import Result, drive

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
    idle_p99, idle_max = await idle_lag(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        prepare(path)
        for tasks in (1, 64):
            for case in CASES:
                theirs = await _case("aiosqlite", case, path, tasks, seconds)
                ours = await _case("loopsafe", case, path, tasks, seconds)
                rows.append(row(case, tasks, theirs, ours))
    info = run_info(
        "benchmarks.orm",
        seconds,
        sqlalchemy=sqlalchemy.__version__,
        aiosqlite=aiosqlite.__version__,
    )
    return {**info, "idle_lag_ms": [idle_p99, idle_max], "rows": rows}


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
    ]
    lines += table(data, "loopsafe")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.orm")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("results/orm"))
    args = parser.parse_args(argv)
    save(args.out, "orm", asyncio.run(run(args.seconds)), report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
