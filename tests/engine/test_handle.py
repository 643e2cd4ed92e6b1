"""db.begin(): a transaction held by a handle, the writer taken only at its first write."""

from __future__ import annotations

import asyncio
import gc

import pytest

import loopsafe

SPIN = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


async def names(db: loopsafe.Database) -> list[str]:
    return [row[0] for row in await db.fetchall("SELECT name FROM items ORDER BY id")]


async def test_a_read_only_handle_never_holds_the_writer(db: loopsafe.Database) -> None:
    txn = await db.begin()
    assert await txn.fetchall("SELECT * FROM items") == []
    assert not txn.writing
    # Another writer gets through while the handle is open (it would wait if it held it).
    await asyncio.wait_for(db.execute("INSERT INTO items (name) VALUES ('other')"), 10)
    await txn.commit()
    assert txn.ended


async def test_reads_before_the_first_write_see_what_was_committed_when_they_ran(
    db: loopsafe.Database,
) -> None:
    txn = await db.begin()
    assert await txn.fetchone("SELECT count(*) FROM items") == (0,)
    await db.execute("INSERT INTO items (name) VALUES ('meanwhile')")
    # Read committed, not one snapshot: the documented rule before the first write.
    assert await txn.fetchone("SELECT count(*) FROM items") == (1,)
    await txn.rollback()


async def test_the_first_write_takes_the_writer_and_later_reads_see_it(
    db: loopsafe.Database,
) -> None:
    txn = await db.begin()
    result = await txn.execute("INSERT INTO items (name) VALUES ('a')")
    assert txn.writing
    assert result.lastrowid == 1
    assert await txn.fetchall("SELECT name FROM items") == [("a",)]
    assert await names(db) == []  # not committed: other callers don't see it
    await txn.commit()
    assert await names(db) == ["a"]


async def test_other_writes_queue_until_the_handle_ends(db: loopsafe.Database) -> None:
    txn = await db.begin(immediate=True)
    assert txn.writing
    other = asyncio.create_task(db.execute("INSERT INTO items (name) VALUES ('other')"))
    await txn.execute("INSERT INTO items (name) VALUES ('mine')")  # a round trip to the writer
    assert not other.done()
    await txn.commit()
    await other
    assert await names(db) == ["mine", "other"]


async def test_savepoints_by_name(db: loopsafe.Database) -> None:
    txn = await db.begin()
    await txn.execute("INSERT INTO items (name) VALUES ('a')")
    await txn.savepoint("sp")
    await txn.execute("INSERT INTO items (name) VALUES ('b')")
    await txn.rollback_to("sp")
    await txn.execute("INSERT INTO items (name) VALUES ('c')")
    await txn.release("sp")
    await txn.commit()
    assert await names(db) == ["a", "c"]


async def test_a_savepoint_named_before_the_first_write_is_kept_for_it(
    db: loopsafe.Database,
) -> None:
    txn = await db.begin()
    await txn.savepoint("early")
    assert not txn.writing  # remembered, no hop
    await txn.execute("INSERT INTO items (name) VALUES ('a')")
    await txn.rollback_to("early")
    await txn.commit()
    assert await names(db) == []
    with pytest.raises(loopsafe.TransactionError):
        await (await db.begin()).release("missing")


async def test_transaction_statements_sent_as_sql_are_refused(db: loopsafe.Database) -> None:
    txn = await db.begin()
    with pytest.raises(loopsafe.TransactionError):
        await txn.execute("COMMIT")
    await txn.rollback()


async def test_commit_after_the_end_raises_and_rollback_does_not(db: loopsafe.Database) -> None:
    txn = await db.begin()
    await txn.execute("INSERT INTO items (name) VALUES ('a')")
    await txn.commit()
    with pytest.raises(loopsafe.TransactionError, match="committed"):
        await txn.execute("INSERT INTO items (name) VALUES ('b')")
    with pytest.raises(loopsafe.TransactionError):
        await txn.commit()
    await txn.rollback()


async def test_a_dropped_handle_is_rolled_back_and_frees_the_writer(
    db: loopsafe.Database,
) -> None:
    txn = await db.begin()
    await txn.execute("INSERT INTO items (name) VALUES ('lost')")
    del txn
    gc.collect()
    await asyncio.wait_for(db.execute("INSERT INTO items (name) VALUES ('next')"), 10)
    assert await names(db) == ["next"]


async def test_abort_rolls_back_without_waiting(db: loopsafe.Database) -> None:
    txn = await db.begin()
    await txn.execute("INSERT INTO items (name) VALUES ('lost')")
    txn.abort()
    assert txn.ended
    await asyncio.wait_for(db.execute("INSERT INTO items (name) VALUES ('next')"), 10)
    assert await names(db) == ["next"]
    with pytest.raises(loopsafe.TransactionError, match="aborted"):
        await txn.fetchall("SELECT 1")


async def test_a_cancelled_statement_rolls_back_the_whole_transaction(
    db: loopsafe.Database,
) -> None:
    txn = await db.begin()
    await txn.execute("INSERT INTO items (name) VALUES ('a')")
    spin = asyncio.create_task(txn.fetchall(SPIN))
    await asyncio.sleep(0)  # let it reach the writer
    spin.cancel()
    with pytest.raises(asyncio.CancelledError):
        await spin
    with pytest.raises(loopsafe.TransactionError):
        await txn.execute("INSERT INTO items (name) VALUES ('b')")
    await txn.rollback()
    await asyncio.wait_for(db.execute("INSERT INTO items (name) VALUES ('next')"), 10)
    assert await names(db) == ["next"]


async def test_a_first_write_that_cannot_take_the_writer_leaves_the_handle_usable(
    db: loopsafe.Database,
) -> None:
    holder = await db.begin(immediate=True)
    txn = await db.begin()
    with pytest.raises(loopsafe.DeadlineError):
        await txn.execute("INSERT INTO items (name) VALUES ('late')", timeout=0.2)
    assert not txn.writing
    assert not txn.ended
    await holder.commit()
    await txn.execute("INSERT INTO items (name) VALUES ('late')")
    await txn.commit()
    assert await names(db) == ["late"]


async def test_a_handle_held_past_its_timeout_is_rolled_back(db: loopsafe.Database) -> None:
    txn = await db.begin(timeout=0.2)
    await txn.execute("INSERT INTO items (name) VALUES ('slow')")
    # Nothing to await: the writer's own clock ends it. Another writer gets the lock then.
    await asyncio.wait_for(db.execute("INSERT INTO items (name) VALUES ('next')"), 10)
    with pytest.raises(loopsafe.DeadlineError):
        await txn.execute("INSERT INTO items (name) VALUES ('more')")
    await txn.rollback()
    assert await names(db) == ["next"]


async def test_concurrent_calls_on_one_handle_run_in_the_order_made(
    db: loopsafe.Database,
) -> None:
    txn = await db.begin()
    await asyncio.gather(
        *(txn.execute("INSERT INTO items (name) VALUES (?)", (f"n{i}",)) for i in range(10))
    )
    await txn.commit()
    assert await names(db) == [f"n{i}" for i in range(10)]


async def test_query_and_executemany_in_a_handle(db: loopsafe.Database) -> None:
    txn = await db.begin()
    await txn.executemany("INSERT INTO items (name) VALUES (?)", [("a",), ("b",)])
    result = await txn.query("INSERT INTO items (name) VALUES ('c') RETURNING id")
    assert (result.rows, result.rowcount, result.lastrowid) == ([(3,)], 1, 3)
    assert await txn.read(lambda conn: conn.execute("SELECT count(*) FROM items").fetchone())
    await txn.commit()
    assert await names(db) == ["a", "b", "c"]


async def test_close_rolls_back_an_open_handle(path: object) -> None:
    db = await loopsafe.open(str(path))
    await db.execute("CREATE TABLE t (v)")
    txn = await db.begin()
    await txn.execute("INSERT INTO t VALUES (1)")
    await db.close()
    with pytest.raises(loopsafe.Error):
        await txn.commit()
    async with loopsafe.open(str(path)) as again:
        assert await again.fetchval("SELECT count(*) FROM t") == 0


async def test_immediate_on_a_readonly_database_is_refused(path: object) -> None:
    async with loopsafe.open(str(path)) as db:
        await db.execute("CREATE TABLE t (v)")
    async with loopsafe.open(str(path), readonly=True) as db:
        with pytest.raises(loopsafe.ReadOnlyError):
            await db.begin(immediate=True)
        txn = await db.begin()
        assert await txn.fetchall("SELECT * FROM t") == []
        await txn.commit()


async def test_the_first_write_is_answered_with_its_begin_in_one_wake_up(
    db: loopsafe.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopsafe.engine._completions import Completions
    from loopsafe.engine._request import Op, Request

    batches: list[list[Op]] = []
    post_many = Completions.post_many

    def record(self: Completions, reqs: list[Request]) -> None:
        batches.append([req.op for req in reqs])
        post_many(self, reqs)

    def record_one(self: Completions, req: Request) -> None:
        record(self, [req])

    monkeypatch.setattr(Completions, "post_many", record)
    monkeypatch.setattr(Completions, "post", record_one)
    txn = await db.begin()
    await txn.execute("INSERT INTO items (name) VALUES ('a')")
    await txn.commit()
    assert [Op.TRANSACTION, Op.EXECUTE] in batches
