"""The queue's SQLite backend: every SQL statement of the queue lives here.

All statements take parameters; none is built from values. Writes that must be atomic run
as one ``Database.write`` callable (one ``BEGIN IMMEDIATE`` transaction on the writer);
inside a caller's ``transaction()`` block the engine runs them in that transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from loopsafe.engine import Database
from loopsafe.stores.queue._backend import Heartbeat, Recovered, StateCounts
from loopsafe.stores.queue._job import Claimed, JobState, NewJob, Outcome
from loopsafe.stores.queue._wakeups import Wakeups

__all__ = ["SQLiteBackend"]

_COLUMNS = (
    "id, queue, task, payload, state, priority, run_at, attempts, max_attempts, unique_key,"
    " concurrency_key, concurrency_limit, lease_until, token, worker, stop_requested, result,"
    " error, created_at, started_at, finished_at"
)
_NAMES = [c.strip() for c in _COLUMNS.split(",")]

_INSERT = """
INSERT INTO loopsafe_jobs (queue, task, payload, state, priority, run_at, max_attempts,
    unique_key, concurrency_key, concurrency_limit, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id
"""

# A batch of plain jobs (no unique key, no cron tick) in one statement, as one JSON array.
# Rowids are assigned in the SELECT's order (each is the largest so far plus one, under the
# write lock), so the ids sorted ascending are the jobs' ids in order.
_INSERT_MANY = """
INSERT INTO loopsafe_jobs (queue, task, payload, state, priority, run_at, max_attempts,
    concurrency_key, concurrency_limit, created_at)
SELECT value ->> 0, value ->> 1, value ->> 2,
       CASE WHEN value ->> 4 > :now THEN 'scheduled' ELSE 'queued' END,
       value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, :now
FROM json_each(:jobs)
ORDER BY key
RETURNING id
"""

_FIND_UNIQUE = """
SELECT id FROM loopsafe_jobs
WHERE unique_key = ? AND state IN ('queued', 'scheduled', 'running', 'failed')
"""

_CRON_TICK = "INSERT INTO loopsafe_cron (task, tick) VALUES (?, ?) ON CONFLICT DO NOTHING"

# One statement claims the batch. Jobs without a concurrency key come straight off the
# ready index; jobs with one are ranked within their key so that one batch never takes more
# than the key's remaining room (the subquery is evaluated before the UPDATE changes rows).
_CLAIM = """
UPDATE loopsafe_jobs
SET state = 'running', attempts = attempts + 1, lease_until = :lease_until,
    token = (random() & 9223372036854775807), worker = :worker, started_at = :now,
    stop_requested = 0
WHERE id IN (
    SELECT id FROM (
        SELECT id, priority, run_at FROM (
            SELECT id, priority, run_at FROM loopsafe_jobs
            WHERE state IN ('queued', 'scheduled', 'failed')
              AND run_at <= :now AND concurrency_key IS NULL
              AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
              AND queue NOT IN (SELECT name FROM loopsafe_queues WHERE paused = 1)
            ORDER BY priority DESC, run_at, id
            LIMIT :limit
        )
        UNION ALL
        SELECT id, priority, run_at FROM (
            SELECT id, priority, run_at, concurrency_key AS k, concurrency_limit AS n,
                   row_number() OVER (
                       PARTITION BY concurrency_key ORDER BY priority DESC, run_at, id
                   ) AS rank
            FROM loopsafe_jobs
            WHERE state IN ('queued', 'scheduled', 'failed')
              AND run_at <= :now AND concurrency_key IS NOT NULL
              AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
              AND queue NOT IN (SELECT name FROM loopsafe_queues WHERE paused = 1)
        )
        WHERE rank + (
            SELECT count(*) FROM loopsafe_jobs AS r
            WHERE r.state = 'running' AND r.concurrency_key = k
        ) <= n
    )
    ORDER BY priority DESC, run_at, id
    LIMIT :limit
)
RETURNING id, task, payload, attempts, max_attempts, token
"""

# Every outcome of a batch in one statement: the batch travels as one JSON array of
# [id, token, state, result, error, retry_at], so the writer loops in C, not in Python.
_OUTCOMES = """
UPDATE loopsafe_jobs AS j
SET state = o.state,
    result = o.result,
    error = CASE WHEN o.state = 'queued' THEN j.error ELSE o.error END,
    run_at = coalesce(o.retry_at, j.run_at),
    attempts = j.attempts - (o.state = 'queued'),
    finished_at = CASE WHEN o.state IN ('succeeded', 'dead', 'cancelled') THEN :now END,
    lease_until = NULL, token = NULL, worker = NULL, stop_requested = 0
FROM (
    SELECT value ->> 0 AS id, value ->> 1 AS token, value ->> 2 AS state,
           value ->> 3 AS result, value ->> 4 AS error, value ->> 5 AS retry_at
    FROM json_each(:outcomes)
) AS o
WHERE j.id = o.id AND j.token = o.token AND j.state = 'running'
RETURNING id
"""

_HEARTBEAT = """
UPDATE loopsafe_jobs AS j SET lease_until = :lease_until
FROM (SELECT value ->> 0 AS id, value ->> 1 AS token FROM json_each(:tokens)) AS t
WHERE j.id = t.id AND j.token = t.token AND j.state = 'running'
RETURNING id, stop_requested
"""

_RECOVER = """
UPDATE loopsafe_jobs
SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'failed' END,
    finished_at = CASE WHEN attempts >= max_attempts THEN :now END,
    run_at = :now,
    error = 'the lease expired: the worker running this job died, hung or lost its database',
    lease_until = NULL, token = NULL, worker = NULL, stop_requested = 0
WHERE state = 'running' AND lease_until < :now
RETURNING state
"""

_CANCEL = """
UPDATE loopsafe_jobs SET state = 'cancelled', finished_at = :now
WHERE id = :id AND state IN ('queued', 'scheduled', 'failed')
"""

_STOP = "UPDATE loopsafe_jobs SET stop_requested = 1 WHERE id = ? AND state = 'running'"

_RETRY = """
UPDATE loopsafe_jobs
SET state = 'queued', attempts = 0, run_at = :now, finished_at = NULL, result = NULL
WHERE id = :id AND state IN ('dead', 'cancelled', 'failed')
"""

_PAUSE = """
INSERT INTO loopsafe_queues (name, paused) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused
"""

_PRUNE = """
DELETE FROM loopsafe_jobs WHERE id IN (
    SELECT id FROM loopsafe_jobs
    WHERE finished_at IS NOT NULL AND finished_at < ?
      AND state IN ('succeeded', 'dead', 'cancelled')
    LIMIT ?
)
"""

_PRUNE_CRON = "DELETE FROM loopsafe_cron WHERE tick < ?"

_COUNTS = "SELECT queue, state, count(*) FROM loopsafe_jobs GROUP BY queue, state"

_OLDEST = """
SELECT
    (SELECT min(run_at) FROM loopsafe_jobs
     WHERE state IN ('queued', 'scheduled', 'failed') AND concurrency_key IS NULL
       AND run_at <= :now),
    (SELECT min(run_at) FROM loopsafe_jobs
     WHERE state IN ('queued', 'scheduled', 'failed') AND concurrency_key IS NOT NULL
       AND run_at <= :now)
"""


def _cursor(conn: sqlite3.Connection) -> sqlite3.Cursor:
    # The Database may have been opened with rows="dict" or a row factory: the backend
    # reads plain tuples whatever the caller chose.
    cur = conn.cursor()
    cur.row_factory = None
    return cur


class SQLiteBackend(Wakeups):
    """:class:`~loopsafe.stores.queue.QueueBackend` on a loopsafe :class:`Database`.

    Wake-ups are in-process only (:class:`Wakeups`): other processes' jobs are found by
    polling."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self._db = db

    async def enqueue(self, jobs: Sequence[NewJob], now: float) -> list[int]:
        if all(j.unique_key is None and j.cron_tick is None for j in jobs):
            batch = json.dumps(
                [
                    [
                        j.queue,
                        j.task,
                        j.payload,
                        j.priority,
                        j.run_at,
                        j.max_attempts,
                        j.concurrency_key,
                        j.concurrency_limit,
                    ]
                    for j in jobs
                ]
            )

            def insert_many(conn: sqlite3.Connection) -> list[int]:
                rows = _cursor(conn).execute(_INSERT_MANY, {"now": now, "jobs": batch})
                return sorted(r[0] for r in rows.fetchall())

            return await self._db.write(insert_many)

        def insert(conn: sqlite3.Connection) -> list[int]:
            cur = _cursor(conn)
            ids: list[int] = []
            for job in jobs:
                if job.cron_tick is not None:
                    cur.execute(_CRON_TICK, (job.task, job.cron_tick))
                    if cur.rowcount == 0:
                        ids.append(0)
                        continue
                if job.unique_key is not None:
                    row = cur.execute(_FIND_UNIQUE, (job.unique_key,)).fetchone()
                    if row is not None:
                        ids.append(int(row[0]))
                        continue
                row = cur.execute(_INSERT, job.row(now)).fetchone()
                ids.append(int(row[0]))
            return ids

        return await self._db.write(insert)

    async def get(self, job_id: int) -> dict[str, Any] | None:
        def select(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = (
                _cursor(conn)
                .execute(f"SELECT {_COLUMNS} FROM loopsafe_jobs WHERE id = ?", (job_id,))
                .fetchone()
            )
            return None if row is None else dict(zip(_NAMES, row, strict=True))

        # Many callers awaiting results poll at once: queue for the reader, don't refuse.
        return await self._db.read(select, wait=True)

    async def list_jobs(
        self, state: str | None, queue: str | None, before: int | None, limit: int, now: float
    ) -> list[dict[str, Any]]:
        if state == "queued":
            where = "(state = 'queued' OR (state = 'scheduled' AND run_at <= :now))"
        elif state == "scheduled":
            where = "state = 'scheduled' AND run_at > :now"
        elif state is None:
            where = "1"
        else:
            where = "state = :state"
        sql = (
            f"SELECT {_COLUMNS} FROM loopsafe_jobs WHERE {where}"
            " AND (:queue IS NULL OR queue = :queue) AND (:before IS NULL OR id < :before)"
            " ORDER BY id DESC LIMIT :limit"
        )
        args = {"state": state, "queue": queue, "before": before, "limit": limit, "now": now}

        def select(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = _cursor(conn).execute(sql, args).fetchall()
            return [dict(zip(_NAMES, row, strict=True)) for row in rows]

        return await self._db.read(select)

    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: float,
        lease_until: float,
        worker: str,
        outcomes: Sequence[Outcome] = (),
    ) -> tuple[list[Claimed], list[int]]:
        names = None if queues is None else json.dumps(list(queues))

        def claim(conn: sqlite3.Connection) -> tuple[list[Claimed], list[int]]:
            cur = _cursor(conn)
            recorded = _record(cur, outcomes, now)
            if limit <= 0:
                return [], recorded
            rows = cur.execute(
                _CLAIM,
                {
                    "now": now,
                    "lease_until": lease_until,
                    "worker": worker,
                    "queues": names,
                    "limit": limit,
                },
            ).fetchall()
            return [Claimed(*row) for row in rows], recorded

        return await self._db.write(claim)

    async def heartbeat(self, tokens: dict[int, int], lease_until: float) -> Heartbeat:
        pairs = json.dumps(list(tokens.items()))

        def beat(conn: sqlite3.Connection) -> Heartbeat:
            rows = (
                _cursor(conn)
                .execute(_HEARTBEAT, {"lease_until": lease_until, "tokens": pairs})
                .fetchall()
            )
            held = {r[0] for r in rows}
            stop = frozenset(r[0] for r in rows if r[1])
            return Heartbeat(stop, frozenset(tokens.keys() - held))

        return await self._db.write(beat)

    async def recover(self, now: float) -> Recovered:
        def recover(conn: sqlite3.Connection) -> Recovered:
            states = [r[0] for r in _cursor(conn).execute(_RECOVER, {"now": now}).fetchall()]
            dead = states.count(JobState.DEAD.value)
            return Recovered(retried=len(states) - dead, dead=dead)

        return await self._db.write(recover)

    async def cancel(self, job_id: int, now: float) -> bool:
        result = await self._db.execute(_CANCEL, {"id": job_id, "now": now})
        return result.rowcount == 1

    async def request_stop(self, job_id: int) -> bool:
        result = await self._db.execute(_STOP, (job_id,))
        return result.rowcount == 1

    async def retry(self, job_id: int, now: float) -> bool:
        def retry(conn: sqlite3.Connection) -> bool:
            try:
                return _cursor(conn).execute(_RETRY, {"id": job_id, "now": now}).rowcount == 1
            except sqlite3.IntegrityError:
                return False  # another job holds its unique key now

        return await self._db.write(retry)

    async def set_paused(self, queue: str, paused: bool) -> None:
        await self._db.execute(_PAUSE, (queue, int(paused)))

    async def paused(self) -> frozenset[str]:
        rows = await self._db.read(
            lambda conn: (
                _cursor(conn)
                .execute("SELECT name FROM loopsafe_queues WHERE paused = 1")
                .fetchall()
            )
        )
        return frozenset(r[0] for r in rows)

    async def prune(self, finished_before: float, limit: int) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            cur = _cursor(conn)
            deleted = cur.execute(_PRUNE, (finished_before, limit)).rowcount
            cur.execute(_PRUNE_CRON, (finished_before,))
            return int(deleted)

        return await self._db.write(prune)

    async def counts(self, now: float) -> StateCounts:
        def counts(conn: sqlite3.Connection) -> StateCounts:
            cur = _cursor(conn)
            depth = {(q, s): int(n) for q, s, n in cur.execute(_COUNTS).fetchall()}
            found = [t for t in cur.execute(_OLDEST, {"now": now}).fetchone() if t is not None]
            return StateCounts(depth, float(min(found)) if found else None)

        return await self._db.read(counts, wait=True)


def _record(cur: sqlite3.Cursor, outcomes: Sequence[Outcome], now: float) -> list[int]:
    if not outcomes:
        return []
    batch = json.dumps(
        [[o.id, o.token, o.state.value, o.result, o.error, o.retry_at] for o in outcomes]
    )
    return [r[0] for r in cur.execute(_OUTCOMES, {"now": now, "outcomes": batch}).fetchall()]
