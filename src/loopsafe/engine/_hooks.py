"""Functions every connection of a Database runs once, added while it is open.

``Database.configure(fn)`` (``create_function``, ``set_authorizer``, ``set_trace_callback``
of the aiosqlite adapter) runs ``fn`` on the writer first, so its errors reach the caller;
once it succeeded there, it is added here, and every other connection runs what it has not
run yet before its next call. A connection that opens later runs them all after
``open(setup=...)``.
"""

from __future__ import annotations

import logging
import sqlite3

from loopsafe.engine._request import ConnectionFn

log = logging.getLogger("loopsafe.engine")


class Hooks:
    """The functions added so far, in order. Appended on one thread (the writer, or the
    loop for a Database without one), read by all: a list's ``append`` and ``len`` are
    atomic under the GIL, and a function is only ever appended whole."""

    __slots__ = ("fns",)

    def __init__(self) -> None:
        self.fns: list[ConnectionFn] = []

    def catch_up(self, conn: sqlite3.Connection, done: int) -> int:
        """Run on ``conn`` the functions from index ``done`` on; return the new count.

        A function that already succeeded on the writer and fails here (a reader's
        ``query_only`` refusing it) is logged, not raised: the call that happened to
        come next is not its caller.
        """
        fns = self.fns
        while done < len(fns):
            fn = fns[done]
            done += 1
            try:
                fn(conn)
            except Exception:
                log.warning("a configure() function failed on a reader's connection", exc_info=True)
        return done
