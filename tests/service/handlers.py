"""Webhook handlers the tests run in a real server process."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from loopsafe.service.deliveries import Delivery


def _data_dir() -> Path:
    return Path(os.environ["LOOPSAFE_DATA_DIR"])


async def fail_until_allowed(delivery: Delivery) -> None:
    """Fail until a file named ``allow`` exists in the data dir."""
    if not (_data_dir() / "allow").exists():
        raise RuntimeError("not allowed yet")


async def slow(delivery: Delivery) -> None:
    """Write ``started-<id>`` in the data dir, then take a minute: longer than any grace."""
    (_data_dir() / f"started-{delivery.id}").touch()
    await asyncio.sleep(60)


async def brief(delivery: Delivery) -> None:
    """Write ``started-<id>`` in the data dir, then take a second: long enough to be caught
    running by a kill, short enough for a stream."""
    (_data_dir() / f"started-{delivery.id}").touch()
    await asyncio.sleep(1.0)
