"""A durable job queue on SQLite: at-least-once delivery with leases, heartbeats and
automatic recovery; retries with backoff; unique and concurrency keys; priorities, named
queues, delays, pause/resume; recurring jobs; results you can await; an in-process worker
and the ``loopsafe worker`` command.

Modules: ``_queue`` (the public class), ``_task`` (registered functions), ``_worker``
(the claim loop and maintenance), ``_context`` (``current_job``), ``_backend`` (the
storage Protocol), ``_sqlite`` (its SQLite implementation, all the SQL), ``_schema``
(migrations), ``_job`` (plain data), ``_options``, ``_waiters``, ``_cron``, ``_retry``,
``_payload``, ``_stats``, ``_command`` (``loopsafe worker``).
"""

from loopsafe.stores.queue._backend import QueueBackend
from loopsafe.stores.queue._context import JobContext, current_job
from loopsafe.stores.queue._job import Job, JobPage, JobState, NewJob
from loopsafe.stores.queue._queue import Queue
from loopsafe.stores.queue._retry import Retry
from loopsafe.stores.queue._stats import QueueStats
from loopsafe.stores.queue._task import Task
from loopsafe.stores.queue._worker import Worker

__all__ = [
    "Job",
    "JobContext",
    "JobPage",
    "JobState",
    "NewJob",
    "Queue",
    "QueueBackend",
    "QueueStats",
    "Retry",
    "Task",
    "Worker",
    "current_job",
]
