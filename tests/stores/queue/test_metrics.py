"""The queue's statistics through Prometheus (loopsafe.stores.metrics)."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, generate_latest

from loopsafe import Queue
from loopsafe.stores import metrics

from ..conftest import Backend
from .helpers import wait_until


async def test_queue_depth_and_throughput_are_scraped(backend: Backend) -> None:
    registry = CollectorRegistry()
    async with Queue(backend.target("jobs")) as queue:

        @queue.task
        async def job() -> None:
            return None

        metrics.attach(queue, registry, name="jobs")
        async with queue.worker():
            await queue.result(await job.enqueue(), timeout=30)
        await job.configure(queue="mail").enqueue()
        await queue.refresh_stats()

        # Scraped from another thread, as prometheus_client's HTTP server does.
        text = (await asyncio.to_thread(generate_latest, registry)).decode()
        assert 'loopsafe_queue_processed_total{store="jobs"} 1.0' in text
        assert 'loopsafe_queue_failures_total{store="jobs"} 0.0' in text
        assert 'loopsafe_queue_states{state="succeeded",store="jobs"} 1.0' in text
        assert 'loopsafe_queue_depth{queue_state="mail/queued",store="jobs"} 1.0' in text
        assert "# TYPE loopsafe_queue_oldest_ready_age gauge" in text

        await job.enqueue()

        async def seen_by_a_scrape() -> bool:
            text = generate_latest(registry).decode()
            return 'loopsafe_queue_states{state="queued",store="jobs"} 2.0' in text

        queue.stats_interval = 0.0  # every scrape asks for fresh counts
        await wait_until(seen_by_a_scrape)
