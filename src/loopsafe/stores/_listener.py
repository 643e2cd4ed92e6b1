"""One ``LISTEN`` connection to PostgreSQL, kept up for as long as a store is open.

The queue (wake workers on an enqueue anywhere) and the flags (reload on a change
anywhere) both hear other processes through ``NOTIFY``. Notifications are only ever a
wake-up, never the data: each store still polls, so while the listener is down it degrades
to polling, never to missing work. This module keeps the connection up:

- a drop (a server restart, a killed backend) is noticed through asyncpg's termination
  callback and the connection is made again, with a backoff from 50 ms to 5 s;
- a peer that vanished without closing the socket is never reported, so an idle
  connection is asked ``SELECT 1`` every 15 s and replaced when it does not answer;
- each time it is (re)made, ``on_connected`` runs: work may have arrived while nobody
  listened, so the store should look now.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from loopsafe.errors import CannotOpenError
from loopsafe.stores._postgres import driver_errors

if TYPE_CHECKING:
    import asyncpg

    Connector = Callable[[], Awaitable[asyncpg.Connection[asyncpg.Record]]]

__all__ = ["Listener"]

_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 5.0  # seconds between tries to reconnect, at most
_CHECK_EVERY = 15.0  # how often an idle connection is checked
_CHECK_TIMEOUT = 5.0  # and how long the check may take


class Listener:
    """``LISTEN channel`` on a connection of its own (``connect()`` makes one), calling
    ``on_notify(payload)`` for each notification and ``on_connected()`` each time the
    connection is (re)made. Callbacks run on the loop and must not block."""

    def __init__(
        self,
        connect: Connector,
        channel: str,
        on_notify: Callable[[str], None],
        on_connected: Callable[[], None] = lambda: None,
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._on_notify = on_notify
        self._on_connected = on_connected
        self._conn: asyncpg.Connection[asyncpg.Record] | None = None
        self._dropped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.reconnects = 0

    async def start(self, *, connect_now: bool = False) -> None:
        """Start listening, in a background task that reconnects after a drop.

        ``connect_now``: make the first connection before returning — notifications sent
        from then on are heard — and raise what ``connect`` raises (for the stores'
        :func:`~loopsafe.stores._postgres.connect`, :class:`~loopsafe.CannotOpenError`),
        or the driver's error if ``LISTEN`` fails, leaving nothing running. Otherwise a
        server that is away now is tried again in the background. A cancel closes what
        was opened.
        """
        if self._task is not None:
            return
        if connect_now:
            await self._make()
        self._task = asyncio.create_task(self._keep_up())

    async def close(self) -> None:
        """Stop listening and close the connection. Idempotent."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop()

    @property
    def listening(self) -> bool:
        """Whether the connection is up now."""
        conn = self._conn
        return conn is not None and not conn.is_closed()

    @property
    def server_pid(self) -> int | None:
        """The PostgreSQL backend serving the connection, while it is up."""
        conn = self._conn
        return conn.get_server_pid() if conn is not None and not conn.is_closed() else None

    async def _make(self) -> None:
        self._dropped.clear()  # before connecting, so an early drop is not missed
        conn = await self._connect()
        try:
            conn.add_termination_listener(lambda _c: self._dropped.set())
            await conn.add_listener(self._channel, self._notified)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        self._on_connected()

    async def _keep_up(self) -> None:
        unreachable: tuple[type[Exception], ...] = (TimeoutError, CannotOpenError, *driver_errors())
        delay = _BACKOFF_FIRST
        while not self._closing:
            if not self.listening:
                try:
                    await self._make()
                except unreachable:
                    # The server is away: the store polls meanwhile; try again later.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _BACKOFF_MAX)
                    continue
                delay = _BACKOFF_FIRST
            assert self._conn is not None
            await self._until_dropped(self._conn, unreachable)
            await self._drop()
            self.reconnects += 1

    async def _until_dropped(
        self, conn: asyncpg.Connection[asyncpg.Record], unreachable: tuple[type[Exception], ...]
    ) -> None:
        while not self._dropped.is_set():
            try:
                await asyncio.wait_for(self._dropped.wait(), _CHECK_EVERY)
            except TimeoutError:
                try:
                    await conn.fetchval("SELECT 1", timeout=_CHECK_TIMEOUT)
                except unreachable:
                    return

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self._on_notify(str(payload))
