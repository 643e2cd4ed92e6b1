"""How a queue backend wakes its idle workers: a generation counter and one event.

Both backends share it: SQLite hears only this process's enqueues (:meth:`Wakeups.notify`),
PostgreSQL also every ``NOTIFY`` its listener hears, which calls the same method.

The lost-wake-up rule: a worker reads :attr:`generation` *before* it claims, and passes it
to :meth:`wait_for_jobs`. A wake-up that lands between the claim and the wait has moved
the generation, so the wait returns at once instead of sleeping through it. The event is
cleared before the second look, so a wake-up after that look still sets it.
"""

from __future__ import annotations

import asyncio

__all__ = ["Wakeups"]


class Wakeups:
    """The wake-up half of :class:`~loopsafe.stores.queue.QueueBackend` (``notify``,
    ``generation``, ``wait_for_jobs``), for a backend to inherit."""

    def __init__(self) -> None:
        self._generation = 0
        self._changed: asyncio.Event | None = None  # made on the loop, at first wait

    def notify(self) -> None:
        """Wake this backend's waiting workers (jobs were enqueued, or may have been)."""
        self._generation += 1
        if self._changed is not None:
            self._changed.set()

    @property
    def generation(self) -> int:
        """Bumped by every :meth:`notify`; read it *before* claiming (see the module)."""
        return self._generation

    async def wait_for_jobs(self, timeout: float, seen: int | None = None) -> None:
        """Return at the next :meth:`notify`, at once if ``seen`` is already stale, or
        after ``timeout`` seconds. Cancelling it cancels only the wait."""
        if seen is not None and seen != self._generation:
            return
        if self._changed is None:
            self._changed = asyncio.Event()
        self._changed.clear()
        if seen is not None and seen != self._generation:
            return
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass
