"""Queue benchmark: no-op jobs end to end (enqueue -> run -> succeeded), one worker process.

loopsafe's Queue on SQLite at ``durability="normal"`` and ``"full"``, and on the local
PostgreSQL (its defaults otherwise), beside procrastinate on the same PostgreSQL and saq
on the local Redis — what a user would otherwise pick. Each system gets the same protocol:
enqueue ``jobs`` no-op jobs in batches of 500 (each system's bulk call, or 500 concurrent
enqueues where it has none), then run one worker with ``concurrency`` until every job has
succeeded. The end-to-end rate is ``jobs / (enqueue time + run time)``. PostgreSQL and
Redis run with their own defaults (PostgreSQL commits durably, Redis keeps jobs in memory).

Run alone with ``python -m benchmarks.stores.queue``; ``benchmarks.stores`` calls :func:`run`.
Writes ``queue.md`` and ``queue.json`` into ``results/stores/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import loopsafe

RESULTS = Path("results/stores")
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
BATCH = 500


@dataclass
class Row:
    system: str
    durability: str
    concurrency: int
    jobs: int
    enqueue_per_s: float | None
    run_per_s: float | None
    end_to_end_per_s: float | None
    note: str = ""


def _unavailable(system: str, durability: str, concurrency: int, jobs: int, note: str) -> Row:
    """A row for a system that could not run here (not installed, server unreachable)."""
    return Row(system, durability, concurrency, jobs, None, None, None, note)


async def bench_loopsafe(jobs: int, concurrency: int, durability: str) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        queue = loopsafe.Queue(Path(tmp) / "jobs.db", open_options={"durability": durability})

        ran = 0
        all_ran = asyncio.Event()

        @queue.task
        async def noop() -> None:
            nonlocal ran
            ran += 1
            if ran == jobs:
                all_ran.set()

        async with queue:
            started = time.perf_counter()
            for start in range(0, jobs, BATCH):
                await queue.enqueue_many([noop.job() for _ in range(min(BATCH, jobs - start))])
            enqueued = time.perf_counter()
            async with queue.worker(concurrency=concurrency):
                await all_ran.wait()
            # The worker has stopped, so every outcome is recorded: the clock stops here.
            done = time.perf_counter()
            succeeded = (await queue.refresh_stats()).count("succeeded")
        note = "" if succeeded == jobs else f"only {succeeded} succeeded"
        return _row("loopsafe", durability, concurrency, jobs, started, enqueued, done, note)


async def bench_loopsafe_postgres(jobs: int, concurrency: int) -> Row:
    """The same protocol as :func:`bench_loopsafe`, on PostgreSQL (a schema of its own)."""
    try:
        import asyncpg
    except ImportError:
        return _unavailable("loopsafe-pg", "postgres default", concurrency, jobs, "no asyncpg")
    schema = f"loopsafe_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = await asyncpg.connect(POSTGRES, timeout=3)
    except Exception as e:
        note = f"not reachable ({type(e).__name__})"
        return _unavailable("loopsafe-pg", "postgres default", concurrency, jobs, note)
    try:
        queue = loopsafe.Queue(f"{POSTGRES}?schema={schema}")
        ran = 0
        all_ran = asyncio.Event()

        @queue.task
        async def noop() -> None:
            nonlocal ran
            ran += 1
            if ran == jobs:
                all_ran.set()

        async with queue:
            started = time.perf_counter()
            for start in range(0, jobs, BATCH):
                await queue.enqueue_many([noop.job() for _ in range(min(BATCH, jobs - start))])
            enqueued = time.perf_counter()
            async with queue.worker(concurrency=concurrency):
                await all_ran.wait()
            done = time.perf_counter()
            succeeded = (await queue.refresh_stats()).count("succeeded")
        note = "" if succeeded == jobs else f"only {succeeded} succeeded"
        return _row(
            "loopsafe-pg", "postgres default", concurrency, jobs, started, enqueued, done, note
        )
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


async def bench_procrastinate(jobs: int, concurrency: int) -> Row:
    try:
        import procrastinate
        import psycopg
    except ImportError:
        return _unavailable("procrastinate", "postgres default", concurrency, jobs, "not installed")
    name = f"loopsafe_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = await psycopg.AsyncConnection.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except Exception as e:
        note = f"not reachable ({type(e).__name__})"
        return _unavailable("procrastinate", "postgres default", concurrency, jobs, note)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conninfo = POSTGRES.rsplit("/", 1)[0] + "/" + name
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

        @app.task(queue="bench")
        async def noop() -> None:
            return None

        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            started = time.perf_counter()
            for start in range(0, jobs, BATCH):
                await noop.batch_defer_async(*({} for _ in range(min(BATCH, jobs - start))))
            enqueued = time.perf_counter()
            await app.run_worker_async(
                queues=["bench"], concurrency=concurrency, wait=False, install_signal_handlers=False
            )
            done = time.perf_counter()
            async with await psycopg.AsyncConnection.connect(conninfo) as conn:
                cur = await conn.execute(
                    "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
                )
                row = await cur.fetchone()
                succeeded = row[0] if row else 0
        note = "" if succeeded == jobs else f"only {succeeded} succeeded"
        return _row(
            "procrastinate", "postgres default", concurrency, jobs, started, enqueued, done, note
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def bench_saq(jobs: int, concurrency: int) -> Row:
    try:
        from saq import Queue as SaqQueue
        from saq import Worker
    except ImportError:
        return _unavailable("saq", "redis default", concurrency, jobs, "not installed")
    queue = SaqQueue.from_url(REDIS, name=f"loopsafe-bench-{uuid.uuid4().hex[:8]}")
    try:
        await asyncio.wait_for(queue.connect(), 3)
        await asyncio.wait_for(queue.count("queued"), 3)
    except Exception as e:
        note = f"not reachable ({type(e).__name__})"
        return _unavailable("saq", "redis default", concurrency, jobs, note)

    try:
        started = time.perf_counter()
        for start in range(0, jobs, BATCH):
            await asyncio.gather(
                *(queue.enqueue("saq_noop") for _ in range(min(BATCH, jobs - start)))
            )
        enqueued = time.perf_counter()
        worker = Worker(
            queue, functions=[saq_noop], concurrency=concurrency, burst=True, dequeue_timeout=0.5
        )
        await worker.start()
        done = time.perf_counter()
        left = await queue.count("incomplete")
        note = "" if left == 0 and not queue.failed else f"{left} incomplete, {queue.failed} failed"
        return _row("saq", "redis default", concurrency, jobs, started, enqueued, done, note)
    finally:
        await queue.disconnect()


async def saq_noop(ctx: Any) -> None:
    return None


def _row(
    system: str,
    durability: str,
    concurrency: int,
    jobs: int,
    t0: float,
    t1: float,
    t2: float,
    note: str = "",
) -> Row:
    return Row(
        system,
        durability,
        concurrency,
        jobs,
        jobs / (t1 - t0),
        jobs / (t2 - t1),
        jobs / (t2 - t0),
        note,
    )


async def run(
    out: Path = RESULTS, *, jobs: int = 10_000, concurrency: int = 100, label: str = ""
) -> dict[str, Any]:
    """Run every system once, side by side; write ``queue.md`` and ``queue.json`` into
    ``out`` (``label``: when and where, printed under the title); return what was written
    to the JSON."""
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    # saq logs its pool running dry at concurrency 100 (and retries); failures still show
    # in the note column.
    logging.getLogger("saq").setLevel(logging.CRITICAL)
    # The others slow down past a few dozen concurrent jobs (procrastinate: 266 jobs/s at
    # 10, 72 at 100 here), so each runs at 10 and at ``concurrency``, and the faster counts.
    # They get fewer jobs: their rate is steady long before 10,000.
    few = min(jobs, 2_000)
    # loopsafe at its worker's default concurrency (10) too, beside the others at 10.
    steps: list[Callable[[], Awaitable[Row]]] = [
        lambda: bench_loopsafe(jobs, 10, "normal"),
        lambda: bench_loopsafe(jobs, concurrency, "normal"),
        lambda: bench_loopsafe(jobs, concurrency, "full"),
        lambda: bench_loopsafe_postgres(jobs, 10),
        lambda: bench_loopsafe_postgres(jobs, concurrency),
    ]
    for c in sorted({10, concurrency}):
        steps.append(lambda c=c: bench_procrastinate(few, c))  # type: ignore[misc]
        steps.append(lambda c=c: bench_saq(few, c))  # type: ignore[misc]
    rows = []
    for step in steps:
        row = await step()
        print(_line(row), flush=True)
        rows.append(row)
    ours = ("loopsafe", "loopsafe-pg")
    others = [r.end_to_end_per_s for r in rows if r.system not in ours and r.end_to_end_per_s]
    fastest = max(others) if others else None
    procrastinate = [
        r.end_to_end_per_s for r in rows if r.system == "procrastinate" and r.end_to_end_per_s
    ]
    best_procrastinate = max(procrastinate) if procrastinate else None
    report = {
        "benchmark": "queue: no-op jobs end to end, one worker process",
        "label": label,
        "jobs": jobs,
        "concurrency": concurrency,
        "batch": BATCH,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "fastest_other_per_s": fastest,
        "procrastinate_per_s": best_procrastinate,
        "rows": [
            {
                **asdict(r),
                "vs_fastest_other": _ratio(r.end_to_end_per_s, fastest),
                "vs_procrastinate": _ratio(r.end_to_end_per_s, best_procrastinate),
            }
            for r in rows
        ],
    }
    await asyncio.to_thread(_write, out, report)
    return report


def _write(out: Path, report: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "queue.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "queue.md").write_text(_markdown(report))


def _ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base


def _line(row: Row) -> str:
    rate = "-" if row.end_to_end_per_s is None else f"{row.end_to_end_per_s:,.0f} jobs/s"
    return (
        f"  queue  {row.system:<14} {row.durability:<17} c={row.concurrency:<4} {rate}  {row.note}"
    )


def _markdown(report: dict[str, Any]) -> str:
    def f(v: float | None, spec: str = ",.0f") -> str:
        return "—" if v is None else format(v, spec)

    lines = [
        "# Queue: no-op jobs end to end, one worker process",
        "",
        *([f"Measured {report['label']}.", ""] if report.get("label") else []),
        f"Jobs enqueued in batches of {report['batch']}, then run by one worker until all "
        f"succeeded; end to end = jobs / (enqueue + run time). Python {report['python']}. "
        f"loopsafe at its defaults (loopsafe-pg: the same Queue on PostgreSQL); PostgreSQL "
        f"commits durably, Redis keeps jobs in memory. vs procrastinate: against its "
        f"faster row.",
        "",
        "| system | durability | concurrency | jobs | enqueue jobs/s | run jobs/s "
        "| end to end jobs/s | vs fastest other | vs procrastinate | note |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report["rows"]:
        ratio = "—" if r["vs_fastest_other"] is None else f"{r['vs_fastest_other']:.1f}x"
        vs_pg = r.get("vs_procrastinate")
        ratio += " | " + ("—" if vs_pg is None else f"{vs_pg:.1f}x")
        lines.append(
            f"| {r['system']} | {r['durability']} | {r['concurrency']} | {r['jobs']:,} "
            f"| {f(r['enqueue_per_s'])} | {f(r['run_per_s'])} "
            f"| {f(r['end_to_end_per_s'])} | {ratio} | {r['note']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stores.queue")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--label", default="", help="when and where, for the report")
    args = parser.parse_args()
    asyncio.run(run(args.out, jobs=args.jobs, concurrency=args.concurrency, label=args.label))


if __name__ == "__main__":
    main()
