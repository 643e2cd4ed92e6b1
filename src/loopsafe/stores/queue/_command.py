"""``loopsafe worker MODULE:ATTRIBUTE``: run a Queue's jobs until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys

from loopsafe.errors import Error
from loopsafe.stores.queue._queue import Queue

__all__ = ["main"]


def load(spec: str) -> Queue:
    """The Queue named by ``"package.module:attribute"`` (imported from the current
    directory too, as ``python -m`` would). Raises :class:`ValueError` for anything else."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected MODULE:ATTRIBUTE (e.g. app.jobs:queue), not {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        queue = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(queue, Queue):
        raise ValueError(f"{spec} is a {type(queue).__name__}, not a loopsafe.Queue")
    return queue


async def serve(queue: Queue, concurrency: int, queues: list[str] | None, grace: float) -> None:
    """Open ``queue``, run a worker until SIGTERM or SIGINT, stop it gracefully, close."""
    loop = asyncio.get_running_loop()
    async with queue:
        worker = queue.worker(concurrency=concurrency, queues=queues, grace=grace)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        try:
            await worker.run()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="loopsafe worker",
        description="Run the jobs of a loopsafe.Queue; SIGTERM or SIGINT stops gracefully.",
    )
    parser.add_argument("queue", metavar="MODULE:ATTRIBUTE", help="where the Queue is")
    parser.add_argument("--concurrency", type=int, default=10, help="jobs at once (10)")
    parser.add_argument(
        "--queues", default=None, help="comma-separated named queues to serve (default: all)"
    )
    parser.add_argument(
        "--grace", type=float, default=10.0, help="seconds running jobs get to finish (10)"
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    try:
        queue = load(args.queue)
    except (ValueError, ImportError) as e:
        print(f"loopsafe worker: {e}", file=sys.stderr)
        return 2
    queues = None if args.queues is None else [q for q in args.queues.split(",") if q]
    try:
        asyncio.run(serve(queue, args.concurrency, queues, args.grace))
    except Error as e:
        # A file that can't be opened, a newer schema, ...: say what, not a traceback.
        print(f"loopsafe worker: {e}", file=sys.stderr)
        return 1
    return 0
