"""Checks and conversions of a job's options, before anything is written."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from loopsafe.errors import ScheduleError

__all__ = ["check_job_options", "resolve_run_at"]

_MAX_PRIORITY = 2**31


def resolve_run_at(
    now: float, delay: float | timedelta | None, run_at: datetime | None, max_delay: float
) -> float:
    """When a job may run, in seconds since the epoch: ``now`` unless delayed; a time in the
    past means now. Raises :class:`~loopsafe.ScheduleError` beyond ``max_delay`` seconds
    ahead (or for a NaN delay), :class:`ValueError` / :class:`TypeError` for a naive or
    non-datetime ``run_at`` or both options at once."""
    if delay is not None and run_at is not None:
        raise ValueError("give delay or run_at, not both")
    if run_at is not None:
        if not isinstance(run_at, datetime):
            raise TypeError("run_at is a datetime (aware); use delay= for seconds")
        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware (e.g. datetime.now(UTC))")
        at = run_at.timestamp()
    elif delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        if math.isnan(seconds):
            raise ScheduleError("delay must be a number of seconds, not NaN")
        at = now + seconds
    else:
        return now
    if at - now > max_delay:
        raise ScheduleError(
            f"the job would run {at - now:.0f} s from now, beyond max_delay "
            f"({max_delay:.0f} s): a date that far ahead is most likely a mistake"
        )
    return max(at, now)


def check_job_options(priority: int, max_attempts: int, concurrency_limit: int) -> None:
    """Raises :class:`ValueError` for a priority outside 32 bits, or fewer than one attempt
    or concurrent job."""
    if not isinstance(priority, int) or not -_MAX_PRIORITY <= priority < _MAX_PRIORITY:
        raise ValueError(f"priority must be an int between -2**31 and 2**31-1, not {priority!r}")
    if not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, not {max_attempts!r}")
    if not isinstance(concurrency_limit, int) or concurrency_limit < 1:
        raise ValueError(f"concurrency_limit must be at least 1, not {concurrency_limit!r}")
