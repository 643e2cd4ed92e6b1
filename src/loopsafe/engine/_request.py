"""One call on its way from a task to a connection thread and back: the record only.

What runs a request on a connection lives with the threads (``_worker.py``); this module
holds what both sides read and write.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Protocol

from loopsafe.engine._lane import Lane
from loopsafe.engine._result import RowShape

Params = Sequence[Any] | dict[str, Any]
ConnectionFn = Callable[[sqlite3.Connection], Any]


class Op(Enum):
    """What a request asks its thread to do.

    ``single_statement``: one statement (or one over many parameter sets) for the caller.
    ``multi_statement``: any number of statements: deadline and cancel are checked after
    them, not only inside the statement running when they fire.
    """

    FETCHONE = ("fetchone", True, False)
    FETCHALL = ("fetchall", True, False)
    FETCHVAL = ("fetchval", True, False)
    EXECUTE = ("execute", True, False)
    EXECUTEMANY = ("executemany", True, False)
    RESULT = ("result", True, False)  # one statement: its rows, description and counts
    CALL = ("call", False, True)  # run the request's `fn` with the connection
    CONFIGURE = ("configure", False, False)  # `fn` on the writer outside a transaction, kept
    CALL_ALONE = ("call_alone", False, True)  # `fn` on the writer outside any transaction
    SCRIPT = ("script", False, True)  # several statements, outside any transaction
    ITERATE = ("iterate", False, False)  # open a cursor and send its first chunk
    NEXT_CHUNK = ("next_chunk", False, False)  # an iteration's next chunk (over its channel)
    TRANSACTION = ("transaction", False, False)  # take the writer for one task's transaction
    SAVEPOINT = ("savepoint", False, False)
    RELEASE = ("release", False, False)
    ROLLBACK_TO = ("rollback_to", False, False)
    COMMIT = ("commit", False, False)
    ROLLBACK = ("rollback", False, False)
    STARTED = ("started", False, False)  # a thread reports its connection open (or why not)
    EXITED = ("exited", False, False)  # a thread reports that it has finished

    def __init__(self, label: str, single_statement: bool, multi_statement: bool) -> None:
        # Attributes, not set membership: an Enum's hash is computed in Python, and these
        # are read for every request.
        self.label = label
        self.single_statement = single_statement
        self.multi_statement = multi_statement


# Looking up an Enum member (`Op.EXECUTE`) costs about 80 ns on Python 3.11, several per
# call on the hot paths: they compare against these module-level names instead.
FETCHONE: Final = Op.FETCHONE
FETCHALL: Final = Op.FETCHALL
FETCHVAL: Final = Op.FETCHVAL
EXECUTE: Final = Op.EXECUTE
EXECUTEMANY: Final = Op.EXECUTEMANY
RESULT: Final = Op.RESULT
CONFIGURE: Final = Op.CONFIGURE
CALL_ALONE: Final = Op.CALL_ALONE
CALL: Final = Op.CALL
SCRIPT: Final = Op.SCRIPT
ITERATE: Final = Op.ITERATE
NEXT_CHUNK: Final = Op.NEXT_CHUNK
TRANSACTION: Final = Op.TRANSACTION
SAVEPOINT: Final = Op.SAVEPOINT
RELEASE: Final = Op.RELEASE
ROLLBACK_TO: Final = Op.ROLLBACK_TO
COMMIT: Final = Op.COMMIT
ROLLBACK: Final = Op.ROLLBACK
STARTED: Final = Op.STARTED
EXITED: Final = Op.EXITED


class Stop(Enum):
    """The one signal a thread's queue (or a channel) receives when it must finish."""

    STOP = "stop"


STOP: Final = Stop.STOP


class FollowUps(Protocol):
    """A channel (``_channel.Channel``) as the thread serving it sees it: where one task's
    next calls come from (the chunks of an iteration, the statements of a transaction)."""

    @property
    def queue(self) -> queue.SimpleQueue[Request | Stop]: ...

    @property
    def timeout(self) -> float | None: ...

    def close(self, why: BaseException, post: Callable[[Request], None]) -> None: ...

    def stop(self) -> None: ...


class Runner(Protocol):
    """The thread running a request, as the loop sees it when it stops the request."""

    @property
    def current(self) -> Request | None: ...

    @property
    def conn(self) -> sqlite3.Connection | None: ...


@dataclass(frozen=True, slots=True)
class ExecuteResult:
    """What ``execute`` / ``executemany`` report.

    ``rowcount``: rows the statement inserted, updated or deleted. ``lastrowid``: the rowid
    of the row an ``INSERT``/``REPLACE`` inserted, ``None`` when it inserted nothing (an
    ignored ``INSERT OR IGNORE``) and for every other statement.
    """

    rowcount: int
    lastrowid: int | None


class Request:
    """A call in flight. The loop thread creates it; exactly one thread fills it in.

    ``cancelled`` is written by the loop thread and read by the worker (and its progress
    handler) so a call whose caller went away stops at the next check. ``answered`` is set
    when the result is handed to the loop, so nothing is ever answered twice.
    """

    __slots__ = (
        "answered",
        "cancelled",
        "channel",
        "chunk",
        "deadline",
        "error",
        "fn",
        "fut",
        "lane",
        "op",
        "outside_transaction",
        "params",
        "readonly",
        "result",
        "shape",
        "sql",
        "timed_out",
        "worker",
    )

    def __init__(
        self,
        op: Op,
        fut: asyncio.Future[Any],
        deadline: float | None = None,
        lane: Lane | None = None,
        sql: str = "",
        params: Any = (),
        fn: ConnectionFn | None = None,
        readonly: bool = False,
        outside_transaction: bool = False,
        channel: FollowUps | None = None,
        chunk: int = 0,
        shape: RowShape | None = None,
    ) -> None:
        # Positional in the hot path (keyword arguments cost the loop thread time per call).
        self.op = op
        self.fut = fut
        self.deadline = deadline  # monotonic seconds
        self.lane = lane  # the lane whose slot this call holds, released when it is drained
        self.sql = sql
        self.params = params
        self.fn = fn  # Op.CALL: what to run
        self.channel = channel  # Op.ITERATE / Op.TRANSACTION: where the follow-ups come
        self.chunk = chunk  # Op.ITERATE: rows per chunk
        self.shape = shape  # Op.RESULT: the caller's row and text factories, if any
        self.outside_transaction = outside_transaction  # VACUUM, PRAGMA, ATTACH, scripts
        self.readonly = readonly  # must not write, even when the writer serves it
        self.cancelled = False
        self.timed_out = False
        self.answered = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.worker: Runner | None = None  # the thread running it, once started

    def stop(self) -> None:
        """Stop this call (loop thread): flag it, and interrupt its statement if it runs now.

        The loop thread holds the GIL here and the worker needs the GIL to move on to its
        next request, so ``worker.current is self`` cannot change under us: the interrupt
        lands on this call's statement (or, if that just finished, on nothing: SQLite clears
        the flag when the next statement starts on an idle connection).
        """
        self.cancelled = True
        worker = self.worker
        if worker is not None and worker.current is self:
            conn = worker.conn
            if conn is not None:
                conn.interrupt()


def shares_group_commit(req: Request) -> bool:
    """Whether the writer may run ``req`` in a group commit with other tasks' writes.

    Only single statements that need no transaction of their own qualify; a callable, a
    script, a statement that must run outside a transaction, a read that must not write
    and the transaction protocol all run by themselves.
    """
    return req.op.single_statement and not req.outside_transaction and not req.readonly
