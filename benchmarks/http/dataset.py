"""The benchmark's SQLite file: a ``cache`` table, deterministic by seed.

Two ways to look up the same row: by ``key`` (indexed: a point read of a few
microseconds) or by ``url`` (no index: a full scan of the table, about 2 ms on a
current x86 core with the default size, like the lookup in the issue). A scan's cost
differs 2-3x between machines, so :func:`build_for_scan` sizes the table from a
measurement until a scan costs what the scenario asks (about 6 ms by default).
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "POINT_SQL",
    "ROWS",
    "SCAN_MS",
    "SCAN_SQL",
    "WRITE_SQL",
    "DatasetInfo",
    "Read",
    "build",
    "build_for_scan",
    "lookup_param",
    "measure",
    "read_sql",
]

Read = Literal["point", "scan"]

ROWS = 26_000
SCAN_MS = 6.0  # the overload scenario's scan: slow enough that two readers saturate early
MAX_ROWS = 2_000_000
VALUE_BYTES = 120

POINT_SQL = "SELECT value FROM cache WHERE key = ?"
SCAN_SQL = "SELECT value FROM cache WHERE url = ?"
WRITE_SQL = "UPDATE cache SET hits = hits + 1, updated_at = ? WHERE key = ?"

_SCHEMA = """
CREATE TABLE cache (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    value TEXT NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX cache_key ON cache (key);
"""

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """What was built, and what one lookup of each kind costs on this machine."""

    path: str
    rows: int
    seed: int
    size_bytes: int
    point_ms: float
    scan_ms: float


def key_for(i: int) -> str:
    """The indexed key of row ``i``."""
    return f"k{i:08d}"


def url_for(i: int) -> str:
    """The un-indexed URL of row ``i``."""
    return f"https://cache.example/items/{i:08d}"


def read_sql(read: Read) -> str:
    """The SELECT for a read kind."""
    return POINT_SQL if read == "point" else SCAN_SQL


def lookup_param(read: Read, i: int) -> str:
    """The parameter that finds row ``i`` with the ``read`` kind's SELECT."""
    return key_for(i) if read == "point" else url_for(i)


def build(path: str | Path, *, rows: int = ROWS, seed: int = 1) -> DatasetInfo:
    """Create (or replace) the database at ``path``; same seed, same bytes of data."""
    target = Path(path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    conn = sqlite3.connect(target)
    try:
        # WAL is persistent in the file, so every mode reads the same way, and
        # writers don't block readers in any of them.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        now = 1_700_000_000.0
        conn.executemany(
            "INSERT INTO cache (id, key, url, value, updated_at) VALUES (?, ?, ?, ?, ?)",
            (
                (i, key_for(i), url_for(i), "".join(rng.choices(_ALPHABET, k=VALUE_BYTES)), now)
                for i in range(rows)
            ),
        )
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return DatasetInfo(
        path=str(target),
        rows=rows,
        seed=seed,
        size_bytes=target.stat().st_size,
        point_ms=measure(target, "point", rows) * 1e3,
        scan_ms=measure(target, "scan", rows) * 1e3,
    )


def build_for_scan(
    path: str | Path, *, rows: int = ROWS, seed: int = 1, scan_ms: float = SCAN_MS
) -> DatasetInfo:
    """Build the table with at least ``rows`` rows, grown (a scan's cost is linear in the
    rows) until a scan costs about ``scan_ms`` milliseconds here; ``scan_ms=0``: ``rows``."""
    info = build(path, rows=rows, seed=seed)
    for _ in range(3):
        if scan_ms <= 0 or info.scan_ms >= 0.9 * scan_ms or info.rows >= MAX_ROWS:
            break
        grown = min(MAX_ROWS, max(info.rows + 1, round(info.rows * scan_ms / info.scan_ms)))
        info = build(path, rows=grown, seed=seed)
    return info


def measure(
    path: str | Path,
    read: Read,
    rows: int,
    repeats: int = 30,
    statistic: Callable[[list[float]], float] = statistics.median,
) -> float:
    """Seconds of one lookup on a warm connection (median of ``repeats`` by default)."""
    conn = sqlite3.connect(path)
    try:
        sql = read_sql(read)
        conn.execute(sql, (lookup_param(read, 0),)).fetchall()
        times = []
        for n in range(repeats):
            param = lookup_param(read, (n * 7919) % rows)
            start = time.perf_counter()
            conn.execute(sql, (param,)).fetchall()
            times.append(time.perf_counter() - start)
        return statistic(times)
    finally:
        conn.close()
