"""Every knob of a Database in one typed, validated object."""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from loopsafe.errors import ArgumentError

RowFactory = Callable[[sqlite3.Cursor, tuple[Any, ...]], Any]
Setup = Callable[[sqlite3.Connection], object]
Rows = Literal["tuple", "dict", "row"] | RowFactory


def _default_readers() -> int:
    # Point reads are bound by the GIL, scans release it inside SQLite: one reader per core
    # serves both, and more threads would only fight the event loop for the GIL.
    return max(2, min(4, os.cpu_count() or 2))


@dataclass(frozen=True, slots=True)
class Options:
    """How a Database is opened. See ``loopsafe.open`` for what each field means."""

    path: str
    readers: int = 0
    readonly: bool = False
    durability: Literal["normal", "full"] = "normal"
    busy_timeout: float = 5.0
    read_queue: int = 1024
    write_queue: int = 1024
    queue_budget: float | None = 0.05
    max_batch: int = 256
    max_batch_wait: float = 0.0
    timeout: float | None = None
    transaction_timeout: float = 60.0
    iterate_idle_timeout: float = 30.0
    rows: Rows = "tuple"
    mmap_size: int = 256 * 1024 * 1024
    journal_size_limit: int = 64 * 1024 * 1024
    cache_size_kib: int = 16 * 1024
    progress_steps: int = 1_000_000
    setup: Setup | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | os.PathLike) or not os.fspath(self.path):
            raise ArgumentError("path must be a non-empty file path or ':memory:'")
        if self.readonly and self.memory:
            raise ArgumentError("readonly=True needs a file: a new ':memory:' database is empty")
        if self.readers == 0:
            object.__setattr__(self, "readers", _default_readers())
        if not 1 <= self.readers <= 64:
            raise ArgumentError(f"readers must be between 1 and 64, not {self.readers}")
        if self.durability not in ("normal", "full"):
            raise ArgumentError(f"durability must be 'normal' or 'full', not {self.durability!r}")
        for name in ("read_queue", "write_queue", "max_batch", "progress_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArgumentError(f"{name} must be a whole number of at least 1, not {value!r}")
        for name in (
            "busy_timeout",
            "max_batch_wait",
            "transaction_timeout",
            "iterate_idle_timeout",
        ):
            _check_seconds(
                name, getattr(self, name), zero=name in ("busy_timeout", "max_batch_wait")
            )
        if self.timeout is not None:
            _check_seconds("timeout", self.timeout, zero=False)
        if self.queue_budget is not None:
            _check_seconds("queue_budget", self.queue_budget, zero=False)
        if self.setup is not None and not callable(self.setup):
            raise ArgumentError(f"setup must be a callable taking a connection, not {self.setup!r}")
        if not callable(self.rows) and self.rows not in ("tuple", "dict", "row"):
            raise ArgumentError("rows must be 'tuple', 'dict', 'row' or a row factory callable")

    @property
    def memory(self) -> bool:
        return os.fspath(self.path) == ":memory:"


def _check_seconds(name: str, value: object, *, zero: bool) -> None:
    # Validated once here, so no thread meets an infinite or negative wait later: a thread
    # that did (queue.get(timeout=inf) raises OverflowError) would fail or die mid-call.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        least = "zero or more" if zero else "more than zero"
        raise ArgumentError(f"{name} must be a finite number of seconds, {least}; not {value!r}")
