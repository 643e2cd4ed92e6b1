"""Several processes on one cache (a file, or a PostgreSQL schema): one fill per key, no
lost increments."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from loopsafe import Cache

from ..conftest import Backend

FILLER = textwrap.dedent(
    """
    import asyncio, os, sys, time, loopsafe
    async def main(path, calls, start):
        async with loopsafe.Cache(path, lock_poll=0.02) as cache:
            async def factory():
                with open(calls, "a") as f:
                    f.write(f"{os.getpid()}\\n")
                await asyncio.sleep(0.5)
                return {"made_by": os.getpid()}
            await asyncio.sleep(max(0.0, start - time.time()))
            got = await asyncio.gather(*(cache.get_or_set("k", factory, ttl=60) for _ in range(20)))
            assert all(g == got[0] for g in got)
            for _ in range(200):
                await cache.incr("n")
            print(got[0]["made_by"])
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
    """
)


async def _read(path: str) -> tuple[object, object]:
    async with Cache(path) as cache:
        return await cache.get("k"), await cache.get("n")


async def _create(path: str) -> None:
    async with Cache(path):
        pass


def test_processes_share_one_fill_per_key_and_every_increment(
    backend: Backend, tmp_path: Path
) -> None:
    path, calls = backend.target("c"), tmp_path / "calls.txt"
    asyncio.run(_create(path))
    start = time.time() + 1.5  # all three ask for the key at about the same moment
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FILLER, path, str(calls), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    makers = {out.strip() for out, _ in outputs}
    assert len(calls.read_text().splitlines()) == 1
    assert len(makers) == 1
    value, count = asyncio.run(_read(path))
    assert value == {"made_by": int(makers.pop())}
    assert count == 600
