"""What ``Database.stats()`` reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stats:
    """A snapshot of a Database's lanes (cheap to take; for metrics and health checks).

    ``read_inflight`` / ``write_inflight``: calls admitted to the lane and not yet answered
    (queued or running). ``read_limit`` / ``write_limit``: the most the lane admits before
    calls fail with ``OverloadedError`` (``read_queue`` and ``write_queue`` of ``open``).
    """

    read_inflight: int
    read_limit: int
    write_inflight: int
    write_limit: int
