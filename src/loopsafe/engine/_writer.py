"""The writer thread: the only write connection, group commit, one transaction at a time."""

from __future__ import annotations

import queue
import sqlite3
import threading
from time import monotonic
from typing import Any

from loopsafe import errors
from loopsafe.engine._request import (
    CALL,
    COMMIT,
    EXECUTEMANY,
    RELEASE,
    ROLLBACK,
    ROLLBACK_TO,
    SAVEPOINT,
    TRANSACTION,
    Request,
)
from loopsafe.engine._worker import STOP, Worker


class TxnChannel:
    """The private queue between one task's transaction and the writer thread.

    ``dead`` is set (under ``lock``) by the writer when it gives the transaction up, so the
    loop never puts a call on a channel nobody reads any more.
    """

    __slots__ = ("dead", "lock", "queue", "timeout")

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.queue: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.dead: BaseException | None = None


class Writer(Worker):
    """Serves the write lane.

    Independent writes are coalesced: everything queued when the writer comes round (up to
    ``max_batch``) runs in one ``BEGIN IMMEDIATE`` ... ``COMMIT``, so 64 waiting writers cost
    one commit (and one fsync at ``durability="full"``), and every caller hears back only
    after that commit. A failing statement fails only its own caller: SQLite undoes a failed
    statement by itself, multi-statement calls run inside their own SAVEPOINT, and when SQLite
    rolls back the whole transaction the other writes of the batch are replayed.
    """

    def __init__(self, *args: Any, source: queue.SimpleQueue[Any]) -> None:
        super().__init__(*args)
        self.source = source
        self.channel: TxnChannel | None = None

    writer = True

    def serve(self, conn: sqlite3.Connection) -> None:
        source = self.source
        get, empty, get_nowait = source.get, source.empty, source.get_nowait
        max_batch = self.options.max_batch
        wait = self.options.max_batch_wait
        while True:
            batch = [get()]
            if wait > 0 and empty() and batch[0] is not STOP:
                try:
                    batch.append(get(timeout=wait))  # let company arrive
                except queue.Empty:
                    pass
            while len(batch) < max_batch and not empty():
                batch.append(get_nowait())
            if not self.process(conn, batch):
                return

    def process(self, conn: sqlite3.Connection, batch: list[Request | None]) -> bool:
        """Run a batch in order; False when the batch contained the stop sentinel."""
        group: list[Request] = []
        for req in batch:
            if req is not None and req.op <= 4 and req.arg is None:
                group.append(req)  # a plain statement: joins the group commit
                continue
            if group:
                self.commit_group(conn, group)
                group = []
            if req is STOP:
                return False
            if req.op == TRANSACTION:
                self.transaction(conn, req)
            else:
                self.alone(conn, req)
        if group:
            self.commit_group(conn, group)
        return True

    def alone(self, conn: sqlite3.Connection, req: Request) -> None:
        """A callable (its own transaction) or a statement that must run outside one."""
        if req.op == CALL:
            if self.begin(conn, [req]):
                if self.execute(conn, req):
                    self.finish(conn, [req])
                else:
                    self.rollback(conn)
        else:
            self.execute(conn, req)
        self.completions.post(req)

    def begin(self, conn: sqlite3.Connection, reqs: list[Request]) -> bool:
        try:
            # IMMEDIATE takes the write lock now, through the busy handler: a deferred
            # transaction that upgrades later gets SQLITE_BUSY at once instead of waiting.
            conn.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.Error as exc:
            for req in reqs:
                req.error = self.error(exc, req)
            return False

    def finish(self, conn: sqlite3.Connection, done: list[Request]) -> None:
        """COMMIT; on failure every request of the transaction fails with the reason."""
        if not conn.in_transaction:
            for req in done:
                req.error = errors.TransactionError(
                    "the transaction was ended inside write(); don't COMMIT or ROLLBACK there",
                    req.sql or None,
                )
            return
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.rollback(conn)
            for req in done:
                req.result = None
                req.error = self.error(exc, req)

    def rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite already rolled back (e.g. after an I/O error)

    def commit_group(self, conn: sqlite3.Connection, group: list[Request]) -> None:
        pending = group
        while pending:
            if not self.begin(conn, pending):
                break
            done: list[Request] = []
            replay: list[Request] | None = None
            for index, req in enumerate(pending):
                if self.run_isolated(conn, req):
                    done.append(req)
                elif not conn.in_transaction:
                    # SQLite rolled back the whole transaction (a ROLLBACK conflict clause, an
                    # interrupt of a write, disk full): the others' work is gone, redo it.
                    replay = done + pending[index + 1 :]
                    break
            if replay is None:
                self.finish(conn, done)
                break
            for req in replay:
                req.result = None
            pending = replay
        self.completions.post_many(group)

    def run_isolated(self, conn: sqlite3.Connection, req: Request) -> bool:
        """Run one request of a group so that its failure undoes only its own work."""
        if req.op != EXECUTEMANY:
            return self.execute(conn, req)  # SQLite undoes a failed statement by itself
        conn.execute("SAVEPOINT loopsafe_many")
        ok = self.execute(conn, req)
        if conn.in_transaction:
            if not ok:
                conn.execute("ROLLBACK TO loopsafe_many")
            conn.execute("RELEASE loopsafe_many")
        return ok

    def transaction(self, conn: sqlite3.Connection, req: Request) -> None:
        """Give the writer to one task's transaction until it commits or rolls back."""
        channel: TxnChannel = req.arg
        if req.cancelled:
            req.error = errors.Interrupted("the transaction was cancelled before it began")
            self.completions.post(req)
            return
        if not self.begin(conn, [req]):
            self.completions.post(req)
            return
        self.channel = channel
        self.completions.post(req)
        limit = channel.timeout or self.options.transaction_timeout
        deadline = monotonic() + limit
        savepoints: list[str] = []
        broken: BaseException | None = None
        try:
            while True:
                try:
                    item = channel.queue.get(timeout=max(0.0, deadline - monotonic()))
                except queue.Empty:
                    item = None
                    broken = errors.Timeout(
                        f"the transaction was open longer than its limit ({limit:g} s) "
                        "and was rolled back"
                    )
                if item is None:
                    self.abandon(conn, channel, broken or errors.Closed("the Database closed"))
                    return
                if item.op == COMMIT or item.op == ROLLBACK:
                    self.end(conn, item, broken)
                    self.completions.post(item)
                    return
                if broken is not None:
                    item.error = errors.TransactionError(
                        f"the transaction was already rolled back: {broken}", item.sql or None
                    )
                elif item.op in (SAVEPOINT, RELEASE, ROLLBACK_TO):
                    self.savepoint(conn, item, savepoints)
                elif not self.execute(conn, item) and not conn.in_transaction:
                    broken = item.error
                elif not conn.in_transaction:
                    broken = errors.TransactionError("the transaction was ended inside the block")
                    item.error = broken
                self.completions.post(item)
        finally:
            self.channel = None

    def savepoint(self, conn: sqlite3.Connection, item: Request, names: list[str]) -> None:
        if item.op == SAVEPOINT:
            name = f"loopsafe_{len(names)}"
            statements = [f"SAVEPOINT {name}"]
            names.append(name)
        else:
            name = names.pop()
            statements = [f"RELEASE {name}"]
            if item.op == ROLLBACK_TO:
                statements.insert(0, f"ROLLBACK TO {name}")
        try:
            for statement in statements:
                conn.execute(statement)
        except sqlite3.Error as exc:
            item.error = self.error(exc, item)

    def end(self, conn: sqlite3.Connection, item: Request, broken: BaseException | None) -> None:
        if item.op == ROLLBACK:
            self.rollback(conn)
        elif broken is not None:
            self.rollback(conn)
            item.error = errors.TransactionError(
                f"the transaction could not commit, it was rolled back: {broken}"
            )
        else:
            self.finish(conn, [item])

    def abandon(self, conn: sqlite3.Connection, channel: TxnChannel, why: BaseException) -> None:
        self.rollback(conn)
        with channel.lock:
            channel.dead = why
            while not channel.queue.empty():
                late = channel.queue.get_nowait()
                if late is not None:
                    late.error = why
                    self.completions.post(late)
