"""Several processes on one file: writers wait on the busy handler instead of failing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import loopsafe

WRITER = textwrap.dedent(
    """
    import asyncio, sys, loopsafe
    async def main(path, tag):
        async with loopsafe.open(path, busy_timeout=30) as db:
            async def one(i):
                await db.execute("INSERT INTO t (tag, i) VALUES (?, ?)", (tag, i), wait=True)
                if i % 50 == 0:
                    async with db.transaction(wait=True):
                        n = await db.fetchval("SELECT count(*) FROM t WHERE tag = ?", (tag,))
                        await db.execute("INSERT INTO marks (tag, n) VALUES (?, ?)", (tag, n))
            await asyncio.gather(*(one(i) for i in range(10000)))
        print("ok")
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def _create(path: Path) -> None:
    async with loopsafe.open(path) as db:
        await db.execute("CREATE TABLE t (tag TEXT, i INTEGER)")
        await db.execute("CREATE TABLE marks (tag TEXT, n INTEGER)")


async def _counts(path: Path) -> tuple[int, list[Any], int]:
    async with loopsafe.open(path) as db:
        return (
            await db.fetchval("SELECT count(*) FROM t"),
            await db.fetchall("SELECT tag, count(*) FROM t GROUP BY tag ORDER BY tag"),
            await db.fetchval("SELECT count(*) FROM marks"),
        )


def test_two_processes_write_one_file_without_busy_errors(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    asyncio.run(_create(path))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
    total, per_tag, marks = asyncio.run(_counts(path))
    assert total == 20000
    assert per_tag == [("a", 10000), ("b", 10000)]
    assert marks == 400
