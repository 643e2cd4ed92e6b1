"""The writer thread: the only write connection, group commit, one transaction at a time."""

from __future__ import annotations

import queue
import sqlite3
from time import monotonic
from typing import Any

from loopsafe import errors
from loopsafe.engine._request import (
    CALL,
    COMMIT,
    CONFIGURE,
    EXECUTEMANY,
    RELEASE,
    ROLLBACK,
    ROLLBACK_TO,
    SAVEPOINT,
    SCRIPT,
    STOP,
    TRANSACTION,
    FollowUps,
    Request,
    Stop,
    shares_group_commit,
)
from loopsafe.engine._worker import Worker, run_operation


def run_read_only(conn: sqlite3.Connection, req: Request) -> Any:
    """Run a read the readers could not take (``:memory:``, every reader streaming) or that
    runs inside a transaction: with ``query_only`` on, so it can't write here either."""
    conn.execute("PRAGMA query_only = ON")
    try:
        return run_operation(conn, req)
    finally:
        conn.execute("PRAGMA query_only = OFF")


MAX_HELD = 32  # most answers of one transaction held back for a shared wake-up

# What running one request of a group did to the group's transaction.
OK = 0  # it succeeded
UNDONE = 1  # it failed and left nothing behind: the others carry on
LOST = 2  # the transaction can't be trusted (SQLite rolled it back, or partial work stayed)
ENDED = 3  # the call itself ran COMMIT or ROLLBACK: the transaction is gone, by its hand


class Writer(Worker):
    """Serves the write lane.

    Independent writes are coalesced: everything queued when the writer comes round (up to
    ``max_batch``) runs in one ``BEGIN IMMEDIATE`` ... ``COMMIT``, so 64 waiting writers cost
    one commit (and one fsync at ``durability="full"``), and every caller hears back only
    after that commit. A failing statement fails only its own caller: SQLite undoes a failed
    statement by itself, multi-statement calls run inside their own SAVEPOINT, and when the
    transaction can't be trusted any more (SQLite rolled it back, or an ``OR FAIL`` statement
    left part of its work behind) it is rolled back and the other writes are replayed.
    """

    writer = True

    def __init__(self, *args: Any, source: queue.SimpleQueue[Any]) -> None:
        super().__init__(*args)
        self.source = source
        self.channel: FollowUps | None = None

    def serve(self, conn: sqlite3.Connection) -> None:
        source = self.source
        get, empty, get_nowait = source.get, source.empty, source.get_nowait
        max_batch = self.options.max_batch
        wait = self.options.max_batch_wait
        while True:
            batch: list[Request | Stop] = [get()]
            if wait > 0 and empty() and batch[0] is not STOP:
                try:
                    batch.append(get(timeout=wait))  # let company arrive
                except queue.Empty:
                    pass
            while len(batch) < max_batch and not empty():
                batch.append(get_nowait())
            try:
                if not self.process(conn, batch):
                    return
            except Exception as exc:  # a bug must not kill the only writer
                # Fail only what was not answered: a write whose COMMIT was reported stays
                # reported (and its lane slot is released once, not twice).
                self.rollback(conn)
                self.fail_unanswered(batch, exc)

    def process(self, conn: sqlite3.Connection, batch: list[Request | Stop]) -> bool:
        """Run a batch in order; False when the batch contained the stop signal."""
        group: list[Request] = []
        for index, req in enumerate(batch):
            if req is not STOP and shares_group_commit(req):
                group.append(req)
                continue
            if group:
                self.commit_group(conn, group)
                group = []
            if req is STOP:
                for late in batch[index + 1 :]:
                    if late is not STOP:
                        late.error = errors.ClosedError("the Database closed before the call ran")
                        self.completions.post(late)
                return False
            if req.op is TRANSACTION:
                self.transaction(conn, req)
            else:
                self.run_outside_group(conn, req)
        if group:
            self.commit_group(conn, group)
        return True

    def run_outside_group(self, conn: sqlite3.Connection, req: Request) -> None:
        """A write callable (in its own transaction), a read that must not write, or a
        statement that must run outside any transaction."""
        if req.op is CALL and not req.readonly:
            if self.begin(conn, [req]):
                if self.run_isolated(conn, req, strict=False) == OK:
                    self.finish(conn, [req])
                else:
                    self.rollback(conn)
        elif self.execute(conn, req) and conn.in_transaction and req.op is SCRIPT:
            req.result = None
            req.error = errors.TransactionError(
                "the script left a transaction open; it was rolled back", req.sql
            )
        self.rollback(conn)  # a failed script may stop after its own BEGIN; a read's BEGIN
        self.completions.post(req)

    def execute(self, conn: sqlite3.Connection, req: Request) -> bool:
        ok = self.guard(req, run_read_only if req.readonly else run_operation, conn, req)
        if ok and req.op is CONFIGURE and req.fn is not None:
            # It ran here: now the other connections run it before their next call.
            self.hooks.fns.append(req.fn)
            self.hooks_done += 1
        return ok

    def begin(self, conn: sqlite3.Connection, reqs: list[Request]) -> bool:
        self.rollback(conn)  # never start on top of a transaction something left open
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
                outcome = self.run_isolated(conn, req, strict=True)
                if outcome == OK:
                    done.append(req)
                elif outcome in (LOST, ENDED):
                    self.rollback(conn)
                    replay = done + pending[index + 1 :]
                    break
            if replay is None:
                self.finish(conn, done)
                break
            for req in replay:
                req.result = None
            pending = replay
        self.completions.post_many(group)

    def run_isolated(self, conn: sqlite3.Connection, req: Request, *, strict: bool) -> int:
        """Run one request so that its failure undoes only its own work.

        ``strict`` (group commit): a failed statement that left changes behind (``OR FAIL``)
        poisons the transaction for the others. In a caller's own transaction that is
        SQLite's documented behaviour, and the caller's to handle.
        """
        if req.op is EXECUTEMANY or req.op is CALL:
            return self._in_savepoint(conn, req)
        before = conn.total_changes
        ok = self.execute(conn, req)
        if not conn.in_transaction:
            if ok:
                req.result = None
                req.error = errors.TransactionError("the statement ended the transaction", req.sql)
            return LOST
        if ok:
            return OK
        return LOST if strict and conn.total_changes != before else UNDONE

    def _in_savepoint(self, conn: sqlite3.Connection, req: Request) -> int:
        try:
            conn.execute("SAVEPOINT loopsafe_call")
        except sqlite3.Error as exc:
            req.error = self.error(exc, req)
            return LOST
        ok = self.execute(conn, req)
        try:
            if conn.in_transaction:
                if not ok:
                    conn.execute("ROLLBACK TO loopsafe_call")
                conn.execute("RELEASE loopsafe_call")
        except sqlite3.Error as exc:
            req.result = None
            req.error = self.error(exc, req)
            return LOST
        if not conn.in_transaction:
            if ok:
                req.result = None
                req.error = errors.TransactionError(
                    "the call ran COMMIT or ROLLBACK itself and so ended its transaction: "
                    "what it did before that was committed or rolled back by its own statement, "
                    "not by loopsafe; don't COMMIT or ROLLBACK inside a call",
                    req.sql or None,
                )
                return ENDED
            return LOST
        return OK if ok else UNDONE

    def transaction(self, conn: sqlite3.Connection, req: Request) -> None:
        """Give the writer to one task's transaction until it commits or rolls back."""
        channel = req.channel
        assert channel is not None
        req.worker = self  # claimed: from now on the outcome is reported from here
        if req.cancelled:
            req.error = errors.AbortedError("the transaction was cancelled before it began")
        elif self.begin(conn, [req]) and req.cancelled:
            self.rollback(conn)  # cancelled (or timed out) while BEGIN waited for the lock
            req.error = (
                errors.DeadlineError("the transaction waited too long for the write lock")
                if req.timed_out
                else errors.AbortedError("the transaction was cancelled before it began")
            )
        if req.error is not None:
            channel.close(req.error, self.completions.post)
            self.completions.post(req)
            return
        self.channel = channel
        # Answers wait while more of the transaction's calls are already queued (a handle's
        # first write is queued behind its BEGIN), so they reach the loop in one wake-up.
        answers: list[Request] = [req]
        if channel.queue.empty():
            self.completions.post_many(answers)
            answers = []
        limit = channel.timeout or self.options.transaction_timeout
        deadline = monotonic() + limit
        savepoints: list[str] = []
        broken: BaseException | None = None
        ended_by_call = False
        why: BaseException = errors.ClosedError("the Database closed")
        try:
            while True:
                item: Request | Stop
                try:
                    item = channel.queue.get(timeout=max(0.0, deadline - monotonic()))
                except queue.Empty:
                    item = STOP
                    why = errors.DeadlineError(
                        f"the transaction was open longer than its limit ({limit:g} s) "
                        "and was rolled back"
                    )
                if item is STOP:
                    return
                if item.op is COMMIT or item.op is ROLLBACK:
                    self.end(conn, item, broken, ended_by_call)
                    answers.append(item)
                    self.completions.post_many(answers)
                    answers = []
                    why = errors.TransactionError("the transaction has ended")
                    return
                if broken is not None:
                    item.error = errors.TransactionError(
                        f"the transaction had already ended: {broken}", item.sql or None
                    )
                elif item.op is SAVEPOINT or item.op is RELEASE or item.op is ROLLBACK_TO:
                    self.savepoint(conn, item, savepoints)
                else:
                    outcome = self.run_isolated(conn, item, strict=False)
                    if outcome in (LOST, ENDED):
                        broken = item.error or errors.TransactionError("the transaction ended")
                        ended_by_call = outcome == ENDED
                answers.append(item)
                if len(answers) >= MAX_HELD or channel.queue.empty():
                    self.completions.post_many(answers)  # before the writer blocks again
                    answers = []
        finally:
            if answers:
                self.completions.post_many(answers)
            self.channel = None
            self.rollback(conn)  # after COMMIT this does nothing
            channel.close(why, self.completions.post)

    def savepoint(self, conn: sqlite3.Connection, item: Request, names: list[str]) -> None:
        if item.op is SAVEPOINT:
            name = f"loopsafe_{len(names)}"
            statements = [f"SAVEPOINT {name}"]
            names.append(name)
        elif not names:
            item.error = errors.TransactionError("there is no nested transaction() block to end")
            return
        else:
            name = names.pop()
            statements = [f"RELEASE {name}"]
            if item.op is ROLLBACK_TO:
                statements.insert(0, f"ROLLBACK TO {name}")
        try:
            for statement in statements:
                conn.execute(statement)
        except sqlite3.Error as exc:
            item.error = self.error(exc, item)

    def end(
        self,
        conn: sqlite3.Connection,
        item: Request,
        broken: BaseException | None,
        ended_by_call: bool,
    ) -> None:
        if item.op is ROLLBACK:
            self.rollback(conn)
        elif broken is not None and ended_by_call:
            self.rollback(conn)  # whatever ran after the call's own COMMIT or ROLLBACK
            item.error = errors.TransactionError(
                "the transaction was ended inside the block by a call that ran COMMIT or "
                f"ROLLBACK itself; loopsafe could not commit it as one: {broken}"
            )
        elif broken is not None:
            self.rollback(conn)
            item.error = errors.TransactionError(
                f"the transaction could not commit, it was rolled back: {broken}"
            )
        elif not conn.in_transaction:
            item.error = errors.TransactionError("the transaction had already ended")
        else:
            self.finish(conn, [item])
