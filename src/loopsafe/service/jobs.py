"""The service's job queue: one task, ``process_delivery``, that runs the webhook handler.

The server runs a worker in-process by default; ``loopsafe worker loopsafe.service.jobs:queue``
runs one separately (it reads the same ``LOOPSAFE_*`` settings, so it finds the same files).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from loopsafe.errors import ClosedError
from loopsafe.service.deliveries import Deliveries
from loopsafe.service.handlers import Handler, load_handler
from loopsafe.service.settings import Settings
from loopsafe.stores import Queue
from loopsafe.stores._postgres import server_errors
from loopsafe.stores.queue import Retry, current_job

__all__ = ["Jobs"]

log = logging.getLogger("loopsafe.service")


class Jobs:
    """The queue, its ``process_delivery`` task and the deliveries it updates."""

    def __init__(self, settings: Settings) -> None:
        self.queue = Queue(settings.store_target("queue"), lease=settings.job_lease)
        self.handler: Handler = load_handler(settings.webhook_handler)
        self._deliveries: Deliveries | None = None
        self._opening: asyncio.Lock | None = None  # made on the loop, at first use
        self._closed = False
        # Closed with the queue, however the queue is closed: by the server's lifespan or
        # by `loopsafe worker`, which knows only the queue.
        self.queue.on_close(self.close)
        self.process_delivery = self.queue.task(
            name="process_delivery",
            max_attempts=settings.job_attempts,
            retry=Retry(base=settings.job_retry_base),
        )(self._process)

    async def deliveries(self) -> Deliveries:
        """The deliveries table beside the queue's jobs: on its file, or in its PostgreSQL
        schema. Opened on first use, once however many tasks ask at the same time; closed
        when the queue closes.

        Raises :class:`~loopsafe.StoreError` before the queue is open,
        :class:`~loopsafe.ClosedError` after it closed, and what opening the table raises.
        A cancelled first call leaves nothing open (the next call opens it).
        """
        if self._deliveries is not None:
            return self._deliveries
        async with self._lock():
            if self._closed:
                raise ClosedError("the service's jobs are closed (their queue closed)")
            if self._deliveries is None:
                self._deliveries = await self._open_deliveries()
        return self._deliveries

    async def _open_deliveries(self) -> Deliveries:
        if self.queue.backend == "postgresql":
            self.queue.pool  # noqa: B018 - raises the right error: not open yet, or closed
            where = self.queue.postgres
            joiner = "&" if "?" in where.dsn else "?"
            # A small pool of its own: most of its writes go on the queue's connection.
            target = f"{where.dsn}{joiner}schema={where.schema}&pool_size=2"
            return await Deliveries(target).open()
        return await Deliveries(self.queue.database).open()

    async def accept(self, source: str, delivery_id: str, body: bytes, now: float) -> int | None:
        """Store a delivery and enqueue its job in one transaction; the job's id, or
        ``None`` (nothing written) for a delivery already received. Raises the stores'
        errors (:class:`~loopsafe.ServerError` when PostgreSQL fails the call; then
        neither was written); a cancel before the commit leaves neither."""
        deliveries = await self.deliveries()
        if self.queue.backend == "postgresql":
            return await self._accept_postgres(deliveries, source, delivery_id, body, now)
        args = {"source": source, "delivery_id": delivery_id}
        async with self.queue.database.transaction():
            if not await deliveries.insert(source, delivery_id, body, now):
                return None
            job_id = await self.queue.enqueue("process_delivery", args)
            await deliveries.set_job(source, delivery_id, job_id)
            return job_id

    @server_errors  # the pool's checkout and the transaction's end fail raw otherwise
    async def _accept_postgres(
        self, deliveries: Deliveries, source: str, delivery_id: str, body: bytes, now: float
    ) -> int | None:
        args = {"source": source, "delivery_id": delivery_id}
        async with self.queue.pool.acquire() as conn, conn.transaction():
            if not await deliveries.insert(source, delivery_id, body, now, conn):
                return None
            job_id = await self.queue.enqueue("process_delivery", args, connection=conn)
            await deliveries.set_job(source, delivery_id, job_id, conn)
            return job_id

    async def close(self) -> None:
        """Close the deliveries table (its own pool, on PostgreSQL). Idempotent; the queue
        calls it as it closes, after its workers stopped."""
        async with self._lock():  # waits for an open in progress, so nothing is left open
            self._closed = True
            deliveries, self._deliveries = self._deliveries, None
            if deliveries is not None:
                await deliveries.close()

    def _lock(self) -> asyncio.Lock:
        if self._opening is None:
            self._opening = asyncio.Lock()
        return self._opening

    async def _process(self, source: str, delivery_id: str) -> None:
        deliveries = await self.deliveries()
        delivery = await deliveries.get(source, delivery_id)
        if delivery is None:
            # Stored and enqueued in one transaction: a job without its delivery means the
            # table was edited by hand. Nothing to process; don't retry.
            log.warning("job for a missing delivery", extra={"delivery": delivery_id})
            return
        try:
            await self.handler(delivery)
        except Exception:
            job = current_job()
            final = job.attempts >= job.max_attempts
            await deliveries.set_state(source, delivery_id, "dead" if final else "failed")
            raise
        await deliveries.set_state(source, delivery_id, "processed")


def __getattr__(name: str) -> Any:
    # `loopsafe worker loopsafe.service.jobs:queue` builds the queue from the environment
    # only when asked, so importing this module reads no settings.
    if name == "queue":
        return Jobs(Settings()).queue
    raise AttributeError(name)
