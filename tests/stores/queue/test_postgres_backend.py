"""The queue's PostgreSQL backend against a real server: claims, leases, keys, wake-ups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from loopsafe.stores.queue import _postgres
from loopsafe.stores.queue._job import JobState, NewJob, Outcome
from loopsafe.stores.queue._postgres import PostgresBackend

from .helpers import wait_until
from .pg import Schema, fresh_schema

NOW = 1_800_000_000.0


def job(task: str = "t", **kw: object) -> NewJob:
    fields: dict[str, object] = {
        "queue": "default",
        "payload": "{}",
        "priority": 0,
        "run_at": NOW,
        "max_attempts": 3,
    }
    fields.update(kw)
    return NewJob(task=task, **fields)  # type: ignore[arg-type]


@pytest.fixture
async def schema() -> AsyncIterator[Schema]:
    async with fresh_schema() as s:
        yield s


@pytest.fixture
async def backend(schema: Schema) -> AsyncIterator[PostgresBackend]:
    async with schema.backend() as b:
        yield b


async def test_a_batch_gets_ids_in_order_and_reads_back(backend: PostgresBackend) -> None:
    ids = await backend.enqueue([job("a"), job("b", run_at=NOW + 60), job("c")], NOW)
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    rows = [await backend.get(i) for i in ids]
    assert [(r["task"], r["state"]) for r in rows if r] == [
        ("a", "queued"),
        ("b", "scheduled"),
        ("c", "queued"),
    ]
    assert await backend.get(max(ids) + 1) is None


async def test_unique_key_returns_the_holder_and_frees_when_final(
    backend: PostgresBackend,
) -> None:
    first = (await backend.enqueue([job(unique_key="k")], NOW))[0]
    assert await backend.enqueue([job(unique_key="k")], NOW) == [first]
    claimed, _ = await backend.claim(None, 1, NOW, NOW + 30, "w")
    done = Outcome(first, claimed[0].token, JobState.SUCCEEDED, result="1")
    assert (await backend.claim(None, 0, NOW, NOW + 30, "w", [done]))[1] == [first]
    again = (await backend.enqueue([job(unique_key="k")], NOW))[0]
    assert again != first


async def test_a_cron_tick_is_enqueued_once_across_hosts(schema: Schema) -> None:
    async with schema.backend() as one, schema.backend() as two:
        results = await asyncio.gather(
            one.enqueue([job("cron", cron_tick=NOW)], NOW),
            two.enqueue([job("cron", cron_tick=NOW)], NOW),
        )
    ids = sorted(r[0] for r in results)
    assert ids[0] == 0
    assert ids[1] > 0


async def test_claims_take_priority_then_run_at_and_skip_paused_and_future(
    backend: PostgresBackend,
) -> None:
    low, high, later, future = await backend.enqueue(
        [
            job("low", run_at=NOW - 10),
            job("high", priority=5),
            job("later", run_at=NOW - 5),
            job("future", run_at=NOW + 60),
        ],
        NOW,
    )
    (mail,) = await backend.enqueue([job("mail", queue="mail", priority=9)], NOW)
    await backend.set_paused("mail", True)
    assert await backend.paused() == {"mail"}
    order = [(await backend.claim(None, 1, NOW, NOW + 30, "w"))[0][0].id for _ in range(3)]
    assert order == [high, low, later]
    await backend.set_paused("mail", False)
    claimed, _ = await backend.claim(["default"], 10, NOW, NOW + 30, "w")
    assert claimed == []
    claimed, _ = await backend.claim(None, 10, NOW + 61, NOW + 91, "w")
    assert {c.id for c in claimed} == {mail, future}


async def test_concurrent_claimers_on_two_pools_never_share_a_job(schema: Schema) -> None:
    async with schema.backend() as one, schema.backend() as two:
        await one.enqueue([job() for _ in range(400)], NOW)

        async def drain(b: PostgresBackend) -> list[int]:
            got: list[int] = []
            while True:
                claimed, _ = await b.claim(None, 7, NOW, NOW + 30, "w")
                if not claimed:
                    return got
                got += [c.id for c in claimed]

        results = await asyncio.gather(*(drain(b) for b in (one, two, one, two)))
    everything = [i for r in results for i in r]
    assert len(everything) == 400 == len(set(everything))


async def test_a_concurrency_key_holds_across_concurrent_claimers(schema: Schema) -> None:
    async with schema.backend() as one, schema.backend() as two:
        await one.enqueue([job(concurrency_key="k", concurrency_limit=2) for _ in range(20)], NOW)
        rounds = await asyncio.gather(
            *(b.claim(None, 5, NOW, NOW + 30, f"w{i}") for i, b in enumerate([one, two] * 4))
        )
        assert sum(len(c) for c, _ in rounds) == 2
        # A finished slot makes room for exactly one more.
        claimed = next(c for c, _ in rounds if c)[0]
        done = Outcome(claimed.id, claimed.token, JobState.SUCCEEDED, result="null")
        more, recorded = await two.claim(None, 5, NOW, NOW + 30, "w", [done])
        assert recorded == [claimed.id]
        assert len(more) == 1


async def test_a_claim_in_flight_on_another_host_holds_its_keys_slots(
    schema: Schema, backend: PostgresBackend
) -> None:
    # Claimers serving different queues pick different jobs of one key, so only the key's
    # lock (not a row lock) can stop both from taking its one slot. The first claim is
    # the backend's own statements on a connection whose transaction is still open.
    await backend.enqueue(
        [
            job("a", queue="a", concurrency_key="k", concurrency_limit=1),
            job("b", queue="b", concurrency_key="k", concurrency_limit=1),
        ],
        NOW,
    )
    other = await schema.connect()
    try:
        async with other.transaction():
            keys = [r[0] for r in await other.fetch(_postgres._READY_KEYS, NOW, ["a"])]
            first = await other.fetch(_postgres._CLAIM, NOW, ["a"], 5, NOW + 30, "w1", keys)
            assert len(first) == 1
            claimed, _ = await backend.claim(["b"], 5, NOW, NOW + 30, "w2")
            assert claimed == []  # the key is being claimed elsewhere: skipped, not waited on
        claimed, _ = await backend.claim(["b"], 5, NOW, NOW + 30, "w2")
        assert claimed == []  # and once that commits, its job holds the slot
    finally:
        await other.close()
    counts = await backend.counts(NOW)
    assert counts.depth == {("a", "running"): 1, ("b", "queued"): 1}


async def test_keyed_and_plain_jobs_share_one_priority_order(backend: PostgresBackend) -> None:
    _plain, keyed = await backend.enqueue(
        [job("plain"), job("keyed", priority=3, concurrency_key="k", concurrency_limit=1)], NOW
    )
    claimed, _ = await backend.claim(None, 1, NOW, NOW + 30, "w")
    assert [c.id for c in claimed] == [keyed]


async def test_an_outcome_counts_only_while_its_token_holds(backend: PostgresBackend) -> None:
    (jid,) = await backend.enqueue([job(max_attempts=2)], NOW)
    (first,), _ = await backend.claim(None, 1, NOW, NOW + 30, "w1")
    beat = await backend.heartbeat({jid: first.token}, NOW + 60)
    assert beat.lost == frozenset()
    recovered = await backend.recover(NOW + 61)
    assert (recovered.retried, recovered.dead) == (1, 0)
    row = await backend.get(jid)
    assert row is not None
    assert row["state"] == "failed"
    assert "lease expired" in row["error"]
    (second,), _ = await backend.claim(None, 1, NOW + 61, NOW + 91, "w2")
    assert second.attempts == 2
    assert second.token != first.token
    stale = Outcome(jid, first.token, JobState.SUCCEEDED, result='"old"')
    assert (await backend.claim(None, 0, NOW + 62, NOW + 92, "w1", [stale]))[1] == []
    assert (await backend.heartbeat({jid: first.token}, NOW + 99)).lost == {jid}
    assert await backend.request_stop(jid)
    assert (await backend.heartbeat({jid: second.token}, NOW + 99)).stop_requested == {jid}
    assert (await backend.recover(NOW + 100)).dead == 1
    row = await backend.get(jid)
    assert row is not None
    assert row["state"] == "dead"
    assert row["finished_at"] == NOW + 100


async def test_hand_back_keeps_the_attempt_and_failure_schedules_a_retry(
    backend: PostgresBackend,
) -> None:
    a, b = await backend.enqueue([job("a"), job("b")], NOW)
    claimed, _ = await backend.claim(None, 2, NOW, NOW + 30, "w")
    tokens = {c.id: c.token for c in claimed}
    outcomes = [
        Outcome(a, tokens[a], JobState.QUEUED),
        Outcome(b, tokens[b], JobState.FAILED, error="boom", retry_at=NOW + 5),
    ]
    _, recorded = await backend.claim(None, 0, NOW, NOW + 30, "w", outcomes)
    assert sorted(recorded) == [a, b]
    ra, rb = await backend.get(a), await backend.get(b)
    assert ra is not None
    assert (ra["state"], ra["attempts"]) == ("queued", 0)
    assert rb is not None
    assert (rb["state"], rb["attempts"], rb["run_at"]) == ("failed", 1, NOW + 5)
    assert [c.id for c in (await backend.claim(None, 5, NOW + 1, NOW + 31, "w"))[0]] == [a]


async def test_cancel_retry_prune_and_counts(backend: PostgresBackend) -> None:
    a, b = await backend.enqueue([job("a", unique_key="u"), job("b")], NOW)
    assert await backend.cancel(a, NOW)
    assert not await backend.cancel(a, NOW)
    (c,) = await backend.enqueue([job("c", unique_key="u")], NOW)
    assert not await backend.retry(a, NOW)  # c holds the key
    assert await backend.cancel(c, NOW)
    assert await backend.retry(a, NOW)
    counts = await backend.counts(NOW)
    assert counts.depth == {("default", "queued"): 2, ("default", "cancelled"): 1}
    assert counts.oldest_ready == NOW
    assert await backend.prune(NOW + 1, 100) == 1
    assert await backend.get(c) is None
    page = await backend.list_jobs("queued", None, None, 10, NOW)
    assert [r["id"] for r in page] == [b, a]
    assert [r["id"] for r in await backend.list_jobs(None, "default", b, 10, NOW)] == [a]


async def test_enqueue_joins_the_callers_transaction(
    schema: Schema, backend: PostgresBackend
) -> None:
    conn = await schema.connect()
    try:
        tx = conn.transaction()
        await tx.start()
        (jid,) = await backend.enqueue([job()], NOW, connection=conn)
        assert await backend.get(jid) is None  # not committed: nobody else sees it
        await tx.rollback()
        assert await backend.get(jid) is None
        async with conn.transaction():
            (kept,) = await backend.enqueue([job()], NOW, connection=conn)
        assert await backend.get(kept) is not None
    finally:
        await conn.close()


async def test_a_commit_in_another_process_wakes_a_waiting_worker(schema: Schema) -> None:
    async with schema.backend() as waiter, schema.backend(listen=False) as other:
        await _until_listening(waiter)
        seen = waiter.generation
        wait = asyncio.create_task(waiter.wait_for_jobs(3600, seen))
        await asyncio.sleep(0)
        assert not wait.done()
        await other.enqueue([job()], NOW)  # `other` hears nothing: only NOTIFY can wake
        await asyncio.wait_for(wait, 30)
        assert waiter.generation > seen


async def test_the_listener_reconnects_after_its_connection_is_killed(schema: Schema) -> None:
    async with schema.backend() as waiter, schema.backend(listen=False) as other:
        await _until_listening(waiter)
        pid = waiter._listener.server_pid  # type: ignore[union-attr]
        conn = await schema.connect()
        try:
            await conn.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await conn.close()

        async def back() -> bool:
            return waiter.reconnects > 0 and waiter.listening

        await wait_until(back)
        seen = waiter.generation
        wait = asyncio.create_task(waiter.wait_for_jobs(3600, seen))
        await other.enqueue([job()], NOW)
        await asyncio.wait_for(wait, 30)


async def _until_listening(backend: PostgresBackend) -> None:
    async def up() -> bool:
        return backend.listening

    await wait_until(up)
