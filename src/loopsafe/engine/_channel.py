"""A private queue from one task to the one thread serving it (a transaction, an iteration)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from loopsafe.engine._request import STOP, Request, Stop


class Channel:
    """Calls for one thread that is dedicated to one task for a while.

    The thread ``close``s the channel when it stops serving it; from then on ``send``
    raises instead of queueing a call that nobody would ever answer. Both sides take
    ``lock`` (for microseconds, never across I/O) so the two can't cross.
    """

    __slots__ = ("dead", "lock", "queue", "timeout")

    def __init__(self, timeout: float | None = None) -> None:
        self.queue: queue.SimpleQueue[Request | Stop] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.dead: BaseException | None = None
        self.timeout = timeout

    def send(self, req: Request) -> None:
        """Queue a call (any thread); raise why the channel closed if it did."""
        with self.lock:
            if self.dead is not None:
                # A fresh exception each time: re-raising one object grows its traceback.
                raise type(self.dead)(*self.dead.args)
            self.queue.put(req)

    def stop(self) -> None:
        """Ask the serving thread to let go (any thread); harmless once it has."""
        self.queue.put(STOP)

    def close(self, why: BaseException, post: Callable[[Request], None]) -> None:
        """Stop serving (worker thread): fail whatever is still queued with ``why``."""
        with self.lock:
            self.dead = why
            while not self.queue.empty():
                late = self.queue.get_nowait()
                if late is not STOP:
                    late.error = type(why)(*why.args)
                    post(late)
