"""The row both backends insert for a new job (NewJob.row)."""

from __future__ import annotations

from loopsafe.stores.queue._job import NewJob

NOW = 1_800_000_000.0


def test_a_job_due_now_is_queued_and_one_ahead_is_scheduled() -> None:
    due = NewJob(task="t", queue="q", payload="{}", priority=2, run_at=NOW, max_attempts=3)
    assert due.row(NOW) == ("q", "t", "{}", "queued", 2, NOW, 3, None, None, None, NOW)
    ahead = NewJob(
        task="t",
        queue="q",
        payload="{}",
        priority=0,
        run_at=NOW + 1,
        max_attempts=1,
        unique_key="u",
        concurrency_key="k",
        concurrency_limit=4,
    )
    assert ahead.row(NOW) == ("q", "t", "{}", "scheduled", 0, NOW + 1, 1, "u", "k", 4, NOW)
