"""The queue's PostgreSQL backend: every SQL statement of the queue on PostgreSQL lives here.

The same operations and semantics as the SQLite backend (``_sqlite.py``), with what a
shared server needs instead of one writer lock:

- claims take rows with ``FOR UPDATE SKIP LOCKED``, so many workers on many hosts claim
  disjoint batches without waiting for each other;
- concurrency keys are counted under a transaction-level advisory lock per key (taken with
  ``pg_try_advisory_xact_lock``: a key another claimer holds is skipped, not waited for),
  so two hosts can never both see room for the last slot;
- wake-ups come from ``LISTEN`` on one dedicated connection (reconnected when it drops;
  while it is down workers fall back to polling every ``poll_interval``);
- ``enqueue`` can run on a connection the caller passes, inside the caller's transaction;
- a claim passes over the rows it would claim that another transaction holds (SKIP
  LOCKED); what it must wait for (a running job's row, to record its outcome) it waits
  for no longer than the pool's ``lock_timeout`` (:class:`~loopsafe.Queue` sets 5 s on
  its connections), then fails with :class:`~loopsafe.BusyError` and the worker tries
  again — so a row another transaction holds and never lets go of (an operator's open
  session, a stuck client) never holds a worker for ever.

The server's failures reach callers as :class:`~loopsafe.ServerError` (the driver's
exception as its cause), as on the other stores. All statements take parameters; none is
built from values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from loopsafe.errors import BusyError
from loopsafe.stores._listener import Listener
from loopsafe.stores._postgres import affected, server_errors
from loopsafe.stores.queue._backend import Heartbeat, Recovered, StateCounts
from loopsafe.stores.queue._job import Claimed, JobState, NewJob, Outcome
from loopsafe.stores.queue._pg_schema import CHANNEL
from loopsafe.stores.queue._wakeups import Wakeups

__all__ = ["PostgresBackend"]

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connector = Callable[[], Awaitable[asyncpg.Connection[asyncpg.Record]]]
    Connection = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]

_COLUMNS = (
    "id, queue, task, payload, state, priority, run_at, attempts, max_attempts, unique_key,"
    " concurrency_key, concurrency_limit, lease_until, token, worker, stop_requested, result,"
    " error, created_at, started_at, finished_at"
)

_WAITING = "state IN ('queued', 'scheduled', 'failed')"

# A batch of plain jobs as parallel arrays; ids come from the sequence in the rows' order.
_INSERT_MANY = """
INSERT INTO loopsafe_jobs (queue, task, payload, state, priority, run_at, max_attempts,
    concurrency_key, concurrency_limit, created_at)
SELECT q, t, p, CASE WHEN r > $9 THEN 'scheduled' ELSE 'queued' END, pr, r, m, ck, cl, $9
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::float8[], $6::int[],
            $7::text[], $8::int[]) WITH ORDINALITY AS b(q, t, p, pr, r, m, ck, cl, n)
ORDER BY n
RETURNING id
"""

_INSERT_ONE = """
INSERT INTO loopsafe_jobs (queue, task, payload, state, priority, run_at, max_attempts,
    unique_key, concurrency_key, concurrency_limit, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('queued', 'scheduled', 'running', 'failed')
    DO NOTHING
RETURNING id
"""

_FIND_UNIQUE = """
SELECT id FROM loopsafe_jobs
WHERE unique_key = $1 AND state IN ('queued', 'scheduled', 'running', 'failed')
"""

_CRON_TICK = """
INSERT INTO loopsafe_cron (task, tick) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1
"""

# $1 now, $2 queues (NULL: all). Only keys that have waiting work are worth locking.
_READY_KEYS = f"""
SELECT k FROM (
    SELECT DISTINCT concurrency_key AS k FROM loopsafe_jobs
    WHERE {_WAITING} AND run_at <= $1 AND concurrency_key IS NOT NULL
      AND ($2::text[] IS NULL OR queue = ANY($2::text[]))
    LIMIT 256
) AS keys
WHERE pg_try_advisory_xact_lock(hashtextextended('loopsafe_queue:' || k, 0))
"""

_FILTER = f"""{_WAITING} AND run_at <= $1
      AND ($2::text[] IS NULL OR queue = ANY($2::text[]))
      AND queue NOT IN (SELECT name FROM loopsafe_queues WHERE paused)"""

# $1 now, $2 queues, $3 limit, $4 lease_until, $5 worker, $6 locked keys. Plain jobs are
# locked as they are read (SKIP LOCKED: another claimer's rows are passed over); keyed jobs
# are ranked within their key, whose advisory lock this transaction holds.
_CLAIM = f"""
WITH plain AS (
    SELECT id, priority, run_at FROM loopsafe_jobs
    WHERE {_FILTER} AND concurrency_key IS NULL
    ORDER BY priority DESC, run_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), keyed AS (
    SELECT id, priority, run_at FROM (
        SELECT id, priority, run_at, concurrency_key AS k, concurrency_limit AS n,
               row_number() OVER (
                   PARTITION BY concurrency_key ORDER BY priority DESC, run_at, id
               ) AS rank
        FROM loopsafe_jobs
        WHERE {_FILTER} AND concurrency_key = ANY($6::text[])
    ) AS c
    WHERE rank + (
        SELECT count(*) FROM loopsafe_jobs AS r
        WHERE r.state = 'running' AND r.concurrency_key = c.k
    ) <= n
), picked AS (
    -- Keyed rows were ranked without locks (a window can't lock): lock them here, and
    -- pass over any that another transaction holds rather than wait for it.
    SELECT id FROM loopsafe_jobs WHERE id IN (
        SELECT id FROM (SELECT * FROM plain UNION ALL SELECT * FROM keyed) AS b
        ORDER BY priority DESC, run_at, id
        LIMIT $3
    )
    FOR UPDATE SKIP LOCKED
)
UPDATE loopsafe_jobs AS j
SET state = 'running', attempts = j.attempts + 1, lease_until = $4,
    token = floor(random() * 9007199254740991)::bigint, worker = $5, started_at = $1,
    stop_requested = false
FROM picked
WHERE j.id = picked.id AND j.{_WAITING}
RETURNING j.id, j.task, j.payload, j.attempts, j.max_attempts, j.token
"""

# $1 now, then the outcomes as parallel arrays.
_OUTCOMES = """
UPDATE loopsafe_jobs AS j
SET state = o.state,
    result = o.result,
    error = CASE WHEN o.state = 'queued' THEN j.error ELSE o.error END,
    run_at = coalesce(o.retry_at, j.run_at),
    attempts = j.attempts - (o.state = 'queued')::int,
    finished_at = CASE WHEN o.state IN ('succeeded', 'dead', 'cancelled') THEN $1::float8 END,
    lease_until = NULL, token = NULL, worker = NULL, stop_requested = false
FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::float8[])
    AS o(id, token, state, result, error, retry_at)
WHERE j.id = o.id AND j.token = o.token AND j.state = 'running'
RETURNING j.id
"""

_HEARTBEAT = """
UPDATE loopsafe_jobs AS j SET lease_until = $1
FROM unnest($2::bigint[], $3::bigint[]) AS t(id, token)
WHERE j.id = t.id AND j.token = t.token AND j.state = 'running'
RETURNING j.id, j.stop_requested
"""

_RECOVER = """
UPDATE loopsafe_jobs
SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'failed' END,
    finished_at = CASE WHEN attempts >= max_attempts THEN $1::float8 END,
    run_at = $1,
    error = 'the lease expired: the worker running this job died, hung or lost its database',
    lease_until = NULL, token = NULL, worker = NULL, stop_requested = false
WHERE state = 'running' AND lease_until < $1
RETURNING state
"""

_CANCEL = f"""
UPDATE loopsafe_jobs SET state = 'cancelled', finished_at = $2
WHERE id = $1 AND {_WAITING}
"""

_STOP = "UPDATE loopsafe_jobs SET stop_requested = true WHERE id = $1 AND state = 'running'"

_RETRY = """
UPDATE loopsafe_jobs
SET state = 'queued', attempts = 0, run_at = $2, finished_at = NULL, result = NULL
WHERE id = $1 AND state IN ('dead', 'cancelled', 'failed')
"""

_PAUSE = """
INSERT INTO loopsafe_queues (name, paused) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused
"""

_PRUNE = """
DELETE FROM loopsafe_jobs WHERE id IN (
    SELECT id FROM loopsafe_jobs
    WHERE finished_at IS NOT NULL AND finished_at < $1
      AND state IN ('succeeded', 'dead', 'cancelled')
    LIMIT $2
)
"""

_PRUNE_CRON = "DELETE FROM loopsafe_cron WHERE tick < $1"

_COUNTS = "SELECT queue, state, count(*) FROM loopsafe_jobs GROUP BY queue, state"

_OLDEST = f"""
SELECT min(run_at) FROM loopsafe_jobs WHERE {_WAITING} AND run_at <= $1
"""


class PostgresBackend(Wakeups):
    """:class:`~loopsafe.stores.queue.QueueBackend` on an asyncpg pool.

    ``connect`` opens the dedicated ``LISTEN`` connection (with the same settings as the
    pool's, so it sees the same schema; kept up by a
    :class:`~loopsafe.stores._listener.Listener`). Call :meth:`start` once on the running
    loop before use and :meth:`close` after; without :meth:`start` (or without
    ``connect``) the backend works by polling alone.
    """

    def __init__(
        self,
        pool: asyncpg.Pool[asyncpg.Record],
        connect: Connector | None = None,
        schema: str | None = None,
    ) -> None:
        super().__init__()  # wake-ups: notify() here, and every NOTIFY the listener hears
        self._pool = pool
        self._schema = schema
        # Each time it is (re)made, work may have arrived while nobody listened: look.
        self._listener = (
            None if connect is None else Listener(connect, CHANNEL, self._heard, self.notify)
        )

    # -- lifecycle of the listening connection -------------------------------------------

    async def start(self) -> None:
        """Start listening (in a background task that reconnects after a drop)."""
        if self._listener is not None:
            await self._listener.start()

    async def close(self) -> None:
        """Stop listening and close the listening connection. Idempotent."""
        if self._listener is not None:
            await self._listener.close()

    @property
    def listening(self) -> bool:
        """Whether the ``LISTEN`` connection is up now."""
        return self._listener is not None and self._listener.listening

    @property
    def reconnects(self) -> int:
        """How many times the ``LISTEN`` connection was lost (and made again)."""
        return 0 if self._listener is None else self._listener.reconnects

    def _heard(self, payload: str) -> None:
        # One channel for every schema's queue: wake only for this one's.
        if self._schema is None or payload == self._schema:
            self.notify()

    # -- operations ------------------------------------------------------------------------

    @server_errors
    async def enqueue(
        self, jobs: Sequence[NewJob], now: float, connection: Connection | None = None
    ) -> list[int]:
        if connection is not None:
            # The caller's connection: its transaction (if any) decides whether the jobs
            # exist; a savepoint keeps a batch all-or-none inside it either way.
            async with connection.transaction():
                return await self._insert(connection, jobs, now)
        async with self._pool.acquire() as conn, conn.transaction():
            return await self._insert(conn, jobs, now)

    async def _insert(self, conn: Connection, jobs: Sequence[NewJob], now: float) -> list[int]:
        if all(j.unique_key is None and j.cron_tick is None for j in jobs):
            rows = await conn.fetch(
                _INSERT_MANY,
                [j.queue for j in jobs],
                [j.task for j in jobs],
                [j.payload for j in jobs],
                [j.priority for j in jobs],
                [j.run_at for j in jobs],
                [j.max_attempts for j in jobs],
                [j.concurrency_key for j in jobs],
                [j.concurrency_limit for j in jobs],
                now,
            )
            return sorted(int(r[0]) for r in rows)
        ids: list[int] = []
        for job in jobs:
            if (
                job.cron_tick is not None
                and await conn.fetchval(_CRON_TICK, job.task, job.cron_tick) is None
            ):
                ids.append(0)
                continue
            values = job.row(now)
            while True:
                new_id = await conn.fetchval(_INSERT_ONE, *values)
                if new_id is None:
                    # The key is held: the holder's id, unless it finished meanwhile (then
                    # the insert goes through on the next turn).
                    new_id = await conn.fetchval(_FIND_UNIQUE, job.unique_key)
                if new_id is not None:
                    ids.append(int(new_id))
                    break
        return ids

    @server_errors
    async def get(self, job_id: int) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM loopsafe_jobs WHERE id = $1",
            job_id,
        )
        return None if row is None else dict(row)

    @server_errors
    async def list_jobs(
        self, state: str | None, queue: str | None, before: int | None, limit: int, now: float
    ) -> list[dict[str, Any]]:
        # $1 queue, $2 before, $3 limit, then what the state filter needs.
        args: list[Any] = [queue, before, limit]
        if state == "queued":
            where = "(state = 'queued' OR (state = 'scheduled' AND run_at <= $4))"
            args.append(now)
        elif state == "scheduled":
            where = "state = 'scheduled' AND run_at > $4"
            args.append(now)
        elif state is None:
            where = "true"
        else:
            where = "state = $4"
            args.append(state)
        sql = (
            f"SELECT {_COLUMNS} FROM loopsafe_jobs WHERE {where}"
            " AND ($1::text IS NULL OR queue = $1) AND ($2::bigint IS NULL OR id < $2)"
            " ORDER BY id DESC LIMIT $3"
        )
        rows = await self._pool.fetch(sql, *args)
        return [dict(r) for r in rows]

    @server_errors
    async def claim(
        self,
        queues: Sequence[str] | None,
        limit: int,
        now: float,
        lease_until: float,
        worker: str,
        outcomes: Sequence[Outcome] = (),
    ) -> tuple[list[Claimed], list[int]]:
        names = None if queues is None else list(queues)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                recorded = await _record(conn, outcomes, now)
                if limit <= 0:
                    return [], recorded
                keys = [r[0] for r in await conn.fetch(_READY_KEYS, now, names)]
                rows = await conn.fetch(_CLAIM, now, names, limit, lease_until, worker, keys)
        except asyncpg.LockNotAvailableError as e:
            raise BusyError(
                "a claim waited past the lock_timeout for a job row another transaction "
                "holds; nothing was recorded or claimed (the worker tries again)"
            ) from e
        return [Claimed(*r) for r in rows], recorded

    @server_errors
    async def heartbeat(self, tokens: dict[int, int], lease_until: float) -> Heartbeat:
        rows = await self._pool.fetch(
            _HEARTBEAT, lease_until, list(tokens.keys()), list(tokens.values())
        )
        held = {int(r[0]) for r in rows}
        stop = frozenset(int(r[0]) for r in rows if r[1])
        return Heartbeat(stop, frozenset(tokens.keys() - held))

    @server_errors
    async def recover(self, now: float) -> Recovered:
        states = [r[0] for r in await self._pool.fetch(_RECOVER, now)]
        dead = states.count(JobState.DEAD.value)
        return Recovered(retried=len(states) - dead, dead=dead)

    @server_errors
    async def cancel(self, job_id: int, now: float) -> bool:
        return affected(await self._pool.execute(_CANCEL, job_id, now)) == 1

    @server_errors
    async def request_stop(self, job_id: int) -> bool:
        return affected(await self._pool.execute(_STOP, job_id)) == 1

    @server_errors
    async def retry(self, job_id: int, now: float) -> bool:
        try:
            return affected(await self._pool.execute(_RETRY, job_id, now)) == 1
        except asyncpg.UniqueViolationError:
            return False  # another job holds its unique key now

    @server_errors
    async def set_paused(self, queue: str, paused: bool) -> None:
        await self._pool.execute(_PAUSE, queue, paused)

    @server_errors
    async def paused(self) -> frozenset[str]:
        rows = await self._pool.fetch("SELECT name FROM loopsafe_queues WHERE paused")
        return frozenset(r[0] for r in rows)

    @server_errors
    async def prune(self, finished_before: float, limit: int) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            deleted = affected(await conn.execute(_PRUNE, finished_before, limit))
            await conn.execute(_PRUNE_CRON, finished_before)
        return deleted

    @server_errors
    async def counts(self, now: float) -> StateCounts:
        async with self._pool.acquire() as conn:
            depth = {(q, s): int(n) for q, s, n in await conn.fetch(_COUNTS)}
            oldest = await conn.fetchval(_OLDEST, now)
        return StateCounts(depth, None if oldest is None else float(oldest))


async def _record(conn: Connection, outcomes: Sequence[Outcome], now: float) -> list[int]:
    if not outcomes:
        return []
    rows = await conn.fetch(
        _OUTCOMES,
        now,
        [o.id for o in outcomes],
        [o.token for o in outcomes],
        [o.state.value for o in outcomes],
        [o.result for o in outcomes],
        [o.error for o in outcomes],
        [o.retry_at for o in outcomes],
    )
    return [int(r[0]) for r in rows]
