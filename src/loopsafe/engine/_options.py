"""Every knob of a Database in one typed, validated object."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

RowFactory = Callable[[sqlite3.Cursor, tuple[Any, ...]], Any]
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

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | os.PathLike) or not os.fspath(self.path):
            raise ValueError("path must be a non-empty file path or ':memory:'")
        if self.readonly and self.memory:
            raise ValueError("readonly=True needs a file: a new ':memory:' database is empty")
        if self.readers == 0:
            object.__setattr__(self, "readers", _default_readers())
        if not 1 <= self.readers <= 64:
            raise ValueError(f"readers must be between 1 and 64, not {self.readers}")
        if self.durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {self.durability!r}")
        for name in ("read_queue", "write_queue", "max_batch", "progress_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("busy_timeout", "max_batch_wait", "transaction_timeout"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.queue_budget is not None and not self.queue_budget > 0:
            raise ValueError("queue_budget must be positive (or None for the count bound only)")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive (or None for no default deadline)")
        if not callable(self.rows) and self.rows not in ("tuple", "dict", "row"):
            raise ValueError("rows must be 'tuple', 'dict', 'row' or a row factory callable")

    @property
    def memory(self) -> bool:
        return os.fspath(self.path) == ":memory:"
