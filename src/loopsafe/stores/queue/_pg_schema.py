"""The queue's tables on PostgreSQL, as versioned migrations (applied on open by
:mod:`loopsafe.stores._pgschema`).

The same columns and states as on SQLite (``_schema.py``); times stay seconds since the
epoch (``double precision``) because the queue's one clock is injectable. Triggers send a
``NOTIFY`` when work becomes ready, so the notification is delivered exactly when the
transaction that made the work commits (an enqueue in the caller's transaction wakes
workers only if it commits).
"""

from __future__ import annotations

__all__ = ["CHANNEL", "PG_MIGRATIONS"]

# One channel for every schema; the payload names the schema, so a listener can ignore
# wake-ups meant for another queue in the same database.
CHANNEL = "loopsafe_queue"

_V1 = """
CREATE TABLE loopsafe_jobs (
    id                bigserial PRIMARY KEY,
    queue             text NOT NULL,
    task              text NOT NULL,
    payload           text NOT NULL,
    state             text NOT NULL,
    priority          integer NOT NULL,
    run_at            double precision NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL,
    unique_key        text,
    concurrency_key   text,
    concurrency_limit integer,
    lease_until       double precision,
    token             bigint,
    worker            text,
    stop_requested    boolean NOT NULL DEFAULT false,
    result            text,
    error             text,
    created_at        double precision NOT NULL,
    started_at        double precision,
    finished_at       double precision
);

CREATE INDEX loopsafe_jobs_ready ON loopsafe_jobs (priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'failed') AND concurrency_key IS NULL;

CREATE INDEX loopsafe_jobs_keyed ON loopsafe_jobs (concurrency_key, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'failed') AND concurrency_key IS NOT NULL;

CREATE INDEX loopsafe_jobs_running ON loopsafe_jobs (concurrency_key, lease_until)
    WHERE state = 'running';

CREATE INDEX loopsafe_jobs_lease ON loopsafe_jobs (lease_until) WHERE state = 'running';

CREATE INDEX loopsafe_jobs_finished ON loopsafe_jobs (finished_at)
    WHERE finished_at IS NOT NULL;

CREATE UNIQUE INDEX loopsafe_jobs_unique ON loopsafe_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('queued', 'scheduled', 'running', 'failed');

CREATE TABLE loopsafe_queues (
    name   text PRIMARY KEY,
    paused boolean NOT NULL DEFAULT false
);

CREATE TABLE loopsafe_cron (
    task text NOT NULL,
    tick double precision NOT NULL,
    PRIMARY KEY (task, tick)
);

CREATE FUNCTION loopsafe_queue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('loopsafe_queue', current_schema());
    RETURN NULL;
END
$$;

-- Per statement, not per row: a batch of a thousand jobs is one notification.
CREATE TRIGGER loopsafe_jobs_inserted AFTER INSERT ON loopsafe_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION loopsafe_queue_notify();

-- A job put back (handed back, retried, recovered) is ready again; claims do not notify.
CREATE TRIGGER loopsafe_jobs_ready_again AFTER UPDATE OF state ON loopsafe_jobs
    FOR EACH ROW WHEN (NEW.state IN ('queued', 'failed') AND OLD.state <> NEW.state)
    EXECUTE FUNCTION loopsafe_queue_notify();

CREATE TRIGGER loopsafe_queues_changed AFTER INSERT OR UPDATE ON loopsafe_queues
    FOR EACH STATEMENT EXECUTE FUNCTION loopsafe_queue_notify();
"""

PG_MIGRATIONS = (_V1,)
