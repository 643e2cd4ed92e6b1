"""``loopsafe migrate TARGET``: apply the stores' schema migrations, as a deploy step.

Stores migrate themselves on open too; this lets a deploy do it once, before new code
serves, and fail early on a schema newer than the code (exit status 1, nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from loopsafe.errors import Error
from loopsafe.stores._store import Store
from loopsafe.stores.cache import Cache
from loopsafe.stores.flags import Flags
from loopsafe.stores.queue import Queue

__all__ = ["main"]

STORES: dict[str, type[Store]] = {"cache": Cache, "flags": Flags, "queue": Queue}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loopsafe migrate",
        description="Bring the stores' tables at TARGET to this loopsafe's schema versions.",
    )
    parser.add_argument(
        "target", help="a SQLite path, sqlite:///path or postgresql://host/db?schema=name"
    )
    parser.add_argument(
        "--store",
        action="append",
        choices=sorted(STORES),
        help="only this store (repeatable; default: every store with a backend for TARGET)",
    )
    parser.add_argument(
        "--unlogged", action="store_true", help="create the cache's PostgreSQL tables UNLOGGED"
    )
    return parser


def _build(name: str, target: str, unlogged: bool) -> Store:
    if name == "cache":
        return Cache(target, unlogged=unlogged)
    return STORES[name](target)


async def _migrate(stores: list[tuple[str, Store]]) -> None:
    # One after another: each is one short transaction, and the output keeps its order.
    for name, store in stores:
        version = await store.migrate()
        print(f"{name}: schema version {version}")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    chosen: list[str] = args.store or list(STORES)
    stores: list[tuple[str, Store]] = []
    for name in dict.fromkeys(chosen):
        try:
            stores.append((name, _build(name, args.target, args.unlogged and name == "cache")))
        except Error as exc:  # a store without a backend for this target
            if args.store:
                print(f"loopsafe migrate: {name}: {exc}", file=sys.stderr)
                return 1
            print(f"{name}: skipped: {exc}", file=sys.stderr)
        except ValueError as exc:
            print(f"loopsafe migrate: {exc}", file=sys.stderr)
            return 2
    try:
        asyncio.run(_migrate(stores))
    except Error as exc:
        print(f"loopsafe migrate: {exc}", file=sys.stderr)
        return 1
    return 0
