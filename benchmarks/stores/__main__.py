"""``make bench-stores``: the cache, flag and (when present) queue benchmarks in one run.

Each writes its Markdown and JSON into ``results/stores/``; this prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from pathlib import Path

from benchmarks.stores import cache, flags

RESULTS = Path("results/stores")


async def main(out: Path, seconds: float) -> None:
    print("cache ...", flush=True)
    await cache.run(out, seconds=seconds)
    print("flags ...", flush=True)
    await flags.run(out)
    names = ["cache", "flags"]
    if importlib.util.find_spec("benchmarks.stores.queue") is not None:
        queue = importlib.import_module("benchmarks.stores.queue")

        print("queue ...", flush=True)
        await queue.run(out)
        names.append("queue")
    for name in names:
        print((out / f"{name}.md").read_text())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stores")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--seconds", type=float, default=3.0, help="per cache case")
    args = parser.parse_args()
    asyncio.run(main(args.out, args.seconds))
