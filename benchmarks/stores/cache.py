"""Cache benchmark: ``get`` and ``set`` at 1 and 64 tasks, side by side in one run.

loopsafe's Cache (its defaults) on SQLite and on PostgreSQL (``LOOPSAFE_BENCH_POSTGRES``,
default the local server at 127.0.0.1:5432, a schema of its own dropped after; the
``unlogged=True`` variant beside it, labelled) beside diskcache called through
``run_in_executor`` (the default executor: what its maintainers tell asyncio users to do)
and ``redis.asyncio`` on the local redis-server (127.0.0.1:6379). A server that is absent
shows as "not reachable". 1,000 keys of 100-byte values, preloaded; each task reads (or
writes) keys in turn for ``seconds``. The PostgreSQL target: ``get`` at 64 tasks at least a
third of redis.asyncio's rate.

Run alone with ``python -m benchmarks.stores.cache``; ``benchmarks.stores`` calls :func:`run`.
Writes ``cache.md`` and ``cache.json`` into ``results/stores/``.
"""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import loopsafe
from benchmarks.stores._drive import drive, write

RESULTS = Path("results/stores")
KEYS = 1000
VALUE = b"v" * 100
TASKS = (1, 64)
PREFIX = "loopsafe-bench:"
# Printed under the table: where and when it ran (e.g. "machine shared with other work").
NOTE = os.environ.get("LOOPSAFE_BENCH_NOTE", "")
POSTGRES = os.environ.get("LOOPSAFE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ON_POSTGRES = "loopsafe on PostgreSQL (127.0.0.1)"
UNLOGGED = "loopsafe on PostgreSQL, unlogged=True"
REDIS = "redis.asyncio (127.0.0.1)"

Op = Callable[[int], Awaitable[object]]


async def _loopsafe(directory: Path, seconds: float) -> dict[str, float]:
    return await _on(loopsafe.Cache(directory / "cache.db"), seconds)


async def _postgres(seconds: float, *, unlogged: bool) -> dict[str, float] | str:
    import asyncpg

    try:
        admin = await asyncpg.connect(POSTGRES, timeout=2)
    except (OSError, asyncpg.PostgresError) as e:
        return f"not reachable ({type(e).__name__})"
    schema = f"loopsafe_bench_{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in POSTGRES else "?"
    try:
        return await _on(
            loopsafe.Cache(f"{POSTGRES}{sep}schema={schema}", unlogged=unlogged), seconds
        )
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # a shared server
        await admin.close()


async def _on(store: loopsafe.Cache, seconds: float) -> dict[str, float]:
    async with store as cache:
        await cache.set_many({f"k{i}": VALUE for i in range(KEYS)})

        async def get(i: int) -> object:
            return await cache.get(f"k{i % KEYS}")

        async def set_(i: int) -> object:
            await cache.set(f"k{i % KEYS}", VALUE)
            return None

        return await _cases(get, set_, seconds)


async def _diskcache(directory: Path, seconds: float) -> dict[str, float]:
    import diskcache

    cache = diskcache.Cache(str(directory / "diskcache"))
    loop = asyncio.get_running_loop()
    try:
        for i in range(KEYS):
            cache.set(f"k{i}", VALUE)

        async def get(i: int) -> object:
            return await loop.run_in_executor(None, cache.get, f"k{i % KEYS}")

        async def set_(i: int) -> object:
            return await loop.run_in_executor(None, cache.set, f"k{i % KEYS}", VALUE)

        return await _cases(get, set_, seconds)
    finally:
        cache.close()


async def _redis(seconds: float) -> dict[str, float] | str:
    import redis.asyncio as redis

    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
    try:
        await client.ping()
    except (OSError, redis.RedisError):
        await client.aclose()
        return "not reachable"
    try:
        await client.mset({f"{PREFIX}k{i}": VALUE for i in range(KEYS)})

        async def get(i: int) -> object:
            return await client.get(f"{PREFIX}k{i % KEYS}")

        async def set_(i: int) -> object:
            return await client.set(f"{PREFIX}k{i % KEYS}", VALUE)

        return await _cases(get, set_, seconds)
    finally:
        await client.delete(*(f"{PREFIX}k{i}" for i in range(KEYS)))  # a shared server
        await client.aclose()


async def _ceiling(seconds: float) -> dict[str, float]:
    """What any awaitable answered by the loop costs here: a future resolved on the next
    loop iteration, no storage at all. No cache that awaits per get can beat it."""
    loop = asyncio.get_running_loop()

    async def round_trip(i: int) -> object:
        fut: asyncio.Future[int] = loop.create_future()
        loop.call_soon(fut.set_result, i)
        return await fut

    return {f"get@{t}": await drive(round_trip, t, seconds) for t in TASKS}


async def _cases(get: Op, set_: Op, seconds: float) -> dict[str, float]:
    out = {}
    for name, op in (("get", get), ("set", set_)):
        for tasks in TASKS:
            out[f"{name}@{tasks}"] = await drive(op, tasks, seconds)
    return out


async def run(out: Path = RESULTS, *, seconds: float = 3.0) -> dict[str, Any]:
    """Run every contender; write ``cache.md`` and ``cache.json`` into ``out``; return the
    report."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        results: dict[str, dict[str, float] | str] = {
            "loopsafe": await _loopsafe(directory, seconds),
            ON_POSTGRES: await _postgres(seconds, unlogged=False),
            UNLOGGED: await _postgres(seconds, unlogged=True),
            "diskcache (run_in_executor)": await _diskcache(directory, seconds),
            REDIS: await _redis(seconds),
        }
    ceiling = await _ceiling(seconds / 3)
    cases = [f"{op}@{t}" for op in ("get", "set") for t in TASKS]
    ours = results["loopsafe"]
    assert isinstance(ours, dict)
    ratios = {
        name: {c: ours[c] / r[c] for c in cases}
        for name, r in results.items()
        if name != "loopsafe" and isinstance(r, dict)
    }
    on_postgres, redis = results[ON_POSTGRES], results[REDIS]
    postgres_vs_redis = (
        {c: on_postgres[c] / redis[c] for c in cases}
        if isinstance(on_postgres, dict) and isinstance(redis, dict)
        else {}
    )
    report = {
        "benchmark": "cache get/set, 1,000 keys of 100 bytes, closed loop",
        "seconds_per_case": seconds,
        "python": platform.python_version(),
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "note": NOTE,
        "ops_per_s": results,
        "loopsafe_vs": ratios,
        "postgres_vs_redis": postgres_vs_redis,
        "target": "PostgreSQL get@64 >= redis.asyncio get@64 / 3",
        "asyncio_round_trip_per_s": {t: ceiling[f"get@{t}"] for t in TASKS},
    }
    write(out, "cache", report, _markdown(report, cases))
    return report


def _markdown(report: dict[str, Any], cases: list[str]) -> str:
    head = " | ".join(c.replace("@", " at ") + " tasks" for c in cases)
    lines = [
        "# Cache: get and set, side by side",
        "",
        f"1,000 keys of 100-byte values, preloaded; each case runs "
        f"{report['seconds_per_case']} s, closed loop. Python {report['python']}, "
        f"{report['measured']}{'; ' + report['note'] if report['note'] else ''}. "
        "Operations per second; in brackets, loopsafe's rate (on SQLite) divided by the "
        "other's.",
        "",
        f"| contender | {head} |",
        "| --- |" + " ---: |" * len(cases),
    ]
    for name, result in report["ops_per_s"].items():
        if isinstance(result, str):
            lines.append(f"| {name} |" + f" {result} |" * len(cases))
            continue
        ratio = report["loopsafe_vs"].get(name, {})
        cells = [f"{result[c]:,.0f}" + (f" ({ratio[c]:.1f}x)" if c in ratio else "") for c in cases]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    versus = report["postgres_vs_redis"]
    if versus:
        met = "met" if versus["get@64"] >= 1 / 3 else "missed"
        lines += [
            "",
            "loopsafe on PostgreSQL divided by redis.asyncio: "
            + ", ".join(f"{c.replace('@', ' at ')} tasks {versus[c]:.2f}x" for c in cases)
            + f". Target get at 64 tasks >= 0.33x: {met} ({versus['get@64']:.2f}x).",
        ]
    trips = report["asyncio_round_trip_per_s"]
    lines += [
        "",
        "For scale, the ceiling of anything awaited per call: a bare asyncio future resolved "
        "on the next loop iteration, no storage, "
        + " and ".join(f"{trips[t]:,.0f}/s at {t} task{'s' if t > 1 else ''}" for t in TASKS)
        + " in this run.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    report = asyncio.run(run())
    print((RESULTS / "cache.md").read_text())
