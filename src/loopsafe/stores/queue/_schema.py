"""The queue's tables on SQLite, as versioned migrations (applied on open)."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

_V1 = """
CREATE TABLE loopsafe_jobs (
    id                INTEGER PRIMARY KEY,
    queue             TEXT NOT NULL,
    task              TEXT NOT NULL,
    payload           TEXT NOT NULL,
    state             TEXT NOT NULL,
    priority          INTEGER NOT NULL,
    run_at            REAL NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL,
    unique_key        TEXT,
    concurrency_key   TEXT,
    concurrency_limit INTEGER,
    lease_until       REAL,
    token             INTEGER,
    worker            TEXT,
    stop_requested    INTEGER NOT NULL DEFAULT 0,
    result            TEXT,
    error             TEXT,
    created_at        REAL NOT NULL,
    started_at        REAL,
    finished_at       REAL
) STRICT;

-- Waiting work in claim order: jobs without a concurrency key, and per key those with one.
-- The claim's WHERE repeats these conditions word for word so that SQLite uses them.
CREATE INDEX loopsafe_jobs_ready ON loopsafe_jobs (priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'failed') AND concurrency_key IS NULL;

CREATE INDEX loopsafe_jobs_keyed ON loopsafe_jobs (concurrency_key, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'failed') AND concurrency_key IS NOT NULL;

CREATE INDEX loopsafe_jobs_running ON loopsafe_jobs (concurrency_key, lease_until)
    WHERE state = 'running';

CREATE INDEX loopsafe_jobs_lease ON loopsafe_jobs (lease_until) WHERE state = 'running';

CREATE INDEX loopsafe_jobs_finished ON loopsafe_jobs (finished_at)
    WHERE finished_at IS NOT NULL;

-- At most one waiting-or-running job per unique key.
CREATE UNIQUE INDEX loopsafe_jobs_unique ON loopsafe_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('queued', 'scheduled', 'running', 'failed');

CREATE TABLE loopsafe_queues (
    name   TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0
) STRICT;

-- One row per recurring task and tick: whichever worker inserts it enqueues the tick's job.
CREATE TABLE loopsafe_cron (
    task TEXT NOT NULL,
    tick REAL NOT NULL,
    PRIMARY KEY (task, tick)
) STRICT, WITHOUT ROWID;
"""

MIGRATIONS = (_V1,)
