"""Admission by time: a lane under synthetic load, with injected service times and a fake
clock (nothing here times the machine), then the rule through a real Database."""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import loopsafe
from loopsafe.engine._admission import Admission
from loopsafe.engine._lane import Lane

from .test_cancellation import ENDLESS

BUDGET = 0.05
SLACK = 1.1  # how far the smoothed mean may stray from a fixed service time


def most_in_flight(service: float, threads: int = 2) -> int:
    """Running calls plus the most a budget's worth of queue can hold."""
    return threads + math.ceil(BUDGET * SLACK * threads / service) + 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Run:
    waits: list[float] = field(default_factory=list)  # admitted: arrival to start, seconds
    refused: list[float] = field(default_factory=list)  # expected wait at each refusal
    peak: int = 0


def simulate(lane: Lane, clock: Clock, arrivals: list[float], service: float) -> Run:
    """Offer calls at ``arrivals`` to ``lane``, served FIFO by its threads in ``service``
    seconds each; every completion is drained on its own, as the loop would."""
    threads = lane.admission.threads
    running: list[float] = []  # completion times
    queued: deque[float] = deque()  # arrival times of admitted calls without a thread
    run = Run()

    def finish_until(t: float) -> None:
        while running and running[0] <= t:
            clock.now = heapq.heappop(running)
            lane.left += 1
            lane.settle()
            if queued:
                run.waits.append(clock.now - queued.popleft())
                heapq.heappush(running, clock.now + service)

    for t in arrivals:
        finish_until(t)
        clock.now = t
        if lane.enter(wait=False):
            if len(running) < threads:
                run.waits.append(0.0)
                heapq.heappush(running, t + service)
            else:
                queued.append(t)
        else:
            run.refused.append(lane.admission.expected_wait(lane.inflight))
        run.peak = max(run.peak, lane.inflight)
    finish_until(math.inf)
    return run


def every(interval: float, count: int, start: float = 0.0) -> list[float]:
    return [start + i * interval for i in range(count)]


def lane_with(clock: Clock, threads: int = 2, limit: int = 10**6) -> Lane:
    return Lane("read", limit, threads, BUDGET, clock)


@pytest.mark.parametrize("service", [20e-6, 0.006, 0.05], ids=["point-read", "scan", "slow"])
def test_overloaded_lane_refuses_exactly_the_calls_that_would_wait_past_the_budget(
    service: float,
) -> None:
    clock = Clock()
    lane = lane_with(clock)
    capacity = 2 / service
    count = max(4000, round(40 * BUDGET * capacity))  # at least 20 budgets of overload
    run = simulate(lane, clock, every(1 / (2 * capacity), count), service)

    assert run.refused, "twice the capacity must be refused in part"
    assert all(wait > BUDGET for wait in run.refused)
    assert 0.4 < len(run.refused) / count < 0.6  # about the half that exceeds capacity
    # Admitted calls started within the budget, give or take the smoothing of the mean (two
    # threads finishing in step give samples of twice and of zero the service time).
    assert max(run.waits) <= BUDGET * SLACK
    assert run.peak <= most_in_flight(service)
    assert lane.admission.service == pytest.approx(service, rel=SLACK - 1)
    assert lane.inflight == 0


def test_lane_recovers_when_load_drops() -> None:
    clock = Clock()
    lane = lane_with(clock)
    service = 0.006
    overload = simulate(lane, clock, every(service / 4, 2000), service)
    assert overload.refused
    calm = simulate(lane, clock, every(service, 1000, start=clock.now + 1.0), service)
    assert calm.refused == []
    assert max(calm.waits) == 0.0  # half the capacity: a thread is always free


def test_nothing_grows_without_bound_under_long_heavy_overload() -> None:
    clock = Clock()
    lane = lane_with(clock)
    service = 0.006
    # Ten times the capacity for ten simulated minutes.
    run = simulate(lane, clock, every(service / 20, 1_000_000), service)
    assert run.peak <= most_in_flight(service)
    assert max(run.waits) <= BUDGET * SLACK
    assert not lane.waiters
    assert lane.inflight == 0
    assert lane.queue.empty()


def test_the_count_bound_still_holds_when_the_budget_would_admit() -> None:
    clock = Clock()
    lane = lane_with(clock, limit=64)
    run = simulate(lane, clock, every(1e-7, 10_000), 20e-6)  # 10x a 20 µs read's capacity
    assert run.peak == 64
    assert all(wait <= BUDGET for wait in run.refused)  # refused by count, not by time


def test_a_cold_lane_admits_up_to_the_count_bound() -> None:
    lane = lane_with(Clock(), limit=8)
    assert all(lane.enter(wait=False) for _ in range(8))
    assert not lane.enter(wait=False)
    assert "queue is full" in str(lane.overloaded())


def test_lone_calls_do_not_train_the_estimate() -> None:
    # A lone call pays a thread wake-up or a COMMIT that a queued batch shares: judging a
    # burst by it would refuse calls that would all be served at once.
    clock = Clock()
    lane = lane_with(clock, threads=1)
    for _ in range(10):
        assert lane.enter(wait=False)
        clock.now += 0.005
        lane.left += 1
        lane.settle()
    assert lane.admission.service is None
    assert all(lane.enter(wait=False) for _ in range(500))


def test_calls_finished_together_share_the_thread_time() -> None:
    clock = Clock()
    lane = lane_with(clock, threads=1)
    for _ in range(33):
        assert lane.enter(wait=False)
    clock.now += 320e-6
    lane.left += 32  # one reader's batch, reported in one wake-up
    lane.settle()
    assert lane.admission.service == pytest.approx(10e-6)
    assert lane.inflight == 1


def test_a_stalled_lane_refuses_newcomers_until_a_call_finishes() -> None:
    clock = Clock()
    lane = lane_with(clock, threads=1)
    lane.admission.service = 0.001  # as learned from earlier queued periods
    assert lane.enter(wait=False)  # runs
    assert lane.enter(wait=False)  # queues: the stall clock starts
    clock.now += 0.04
    assert lane.enter(wait=False)  # 40 ms without a completion: still within the budget
    clock.now += 0.011
    assert not lane.enter(wait=False)
    assert "behind" in str(lane.overloaded())
    assert lane.enter(wait=True)  # a waiter is judged by its own deadline, not the budget
    lane.left += 1
    lane.settle()
    assert lane.enter(wait=False)


def test_the_mean_weighs_every_finished_call_the_same() -> None:
    clock = Clock()
    admission = Admission(BUDGET, 1, clock)
    admission.moved(0, 1)
    admission.moved(1, 2)
    clock.now += 0.001
    admission.finished(2, 1)
    assert admission.service == pytest.approx(0.001)
    admission.moved(1, 2)
    clock.now += 0.011
    admission.finished(2, 1)
    assert admission.service == pytest.approx(0.002)  # a tenth of the way to 11 ms
    admission.moved(1, 3)
    clock.now += 0.002
    admission.finished(3, 2)  # two calls of 1 ms: weighed as two
    assert admission.service == pytest.approx(0.002 - 0.19 * 0.001)


def test_no_budget_means_the_count_bound_only() -> None:
    clock = Clock()
    lane = Lane("read", 10**6, 2, None, clock)
    run = simulate(lane, clock, every(0.001, 4000), 0.006)
    assert run.refused == []


def test_queue_budget_is_validated(path: Path) -> None:
    with pytest.raises(ValueError, match="queue_budget"):
        loopsafe.open(path, queue_budget=0)
    with pytest.raises(ValueError, match="queue budget"):
        Admission(-1.0, 1)


async def test_a_database_lane_stalled_past_its_budget_sheds_and_waiters_keep_deadlines(
    path: Path,
) -> None:
    async with loopsafe.open(path, readers=1, queue_budget=0.01) as db:
        # Learn a service time: reads queued behind each other.
        await asyncio.gather(*(db.fetchval("SELECT 1") for _ in range(8)))
        blocker = asyncio.create_task(db.fetchval(ENDLESS))
        queued = asyncio.create_task(db.fetchval("SELECT 2"))
        await asyncio.sleep(0.05)  # at least this long without a completion
        with pytest.raises(loopsafe.OverloadedError, match="behind"):
            await db.fetchval("SELECT 3")
        # wait=True is not judged by the budget: it queues, and its own timeout ends it.
        with pytest.raises(loopsafe.DeadlineError):
            await db.fetchval("SELECT 4", wait=True, timeout=0.05)
        blocker.cancel()
        await asyncio.gather(blocker, return_exceptions=True)
        assert await queued == 2
        # The interrupted statement gives its slot back when its thread reports it; once the
        # lane has an idle thread it admits again, whatever its estimate.
        for _ in range(500):
            if db.stats().read_inflight == 0:
                break
            await asyncio.sleep(0.01)
        assert await db.fetchval("SELECT 5") == 5
