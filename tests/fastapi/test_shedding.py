"""LoadShedding in-process: 503 before routing while the limit is reached, exempt paths,
no queue, counts that return to zero. Lag is injected into the limiter."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI

from loopsafe.fastapi import LoadShedding, SheddingStats
from loopsafe.fastapi._lagprobe import LagProbe

LAGGING = 0.05  # ten times the default target


class App:
    """A FastAPI app whose /work route waits until released; counts what reached it."""

    def __init__(self) -> None:
        self.fastapi = FastAPI()
        self.release = asyncio.Event()
        self.reached = 0

        @self.fastapi.get("/work")
        async def work() -> dict[str, bool]:
            self.reached += 1
            await self.release.wait()
            return {"ok": True}

        @self.fastapi.get("/health")
        async def health() -> dict[str, bool]:
            return {"ok": True}

        @self.fastapi.get("/boom")
        async def boom() -> None:
            raise RuntimeError("boom")


def _shed(app: App, **kwargs: object) -> LoadShedding:
    # A window of binary fractions of a second: sums of injected instants stay exact.
    return LoadShedding(app.fastapi, heartbeat=False, window=0.125, **kwargs)  # type: ignore[arg-type]


def _client(shedder: LoadShedding) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=shedder, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _lag_for_a_window(shedder: LoadShedding, lag: float, start: float = 0.0) -> float:
    """Feed the limiter one window of beats all ``lag`` late; returns the next instant."""
    limiter = shedder.limiter
    now = start
    limiter.observe(lag, shedder.inflight, now)
    for _ in range(4):
        now += limiter.window / 4
        limiter.observe(lag, shedder.inflight, now)
    return now


async def _until(predicate: object, what: str) -> None:
    # Requests started with create_task reach the app within a few loop iterations.
    for _ in range(1000):
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError(what)


async def test_sheds_when_the_loop_lags_and_admits_again_when_it_recovers() -> None:
    app = App()
    shedder = _shed(app, min_limit=2, max_limit=16)
    async with _client(shedder) as client:
        held = [asyncio.create_task(client.get("/work")) for _ in range(4)]
        await _until(lambda: app.reached == 4, "the first requests never reached the app")
        now = _lag_for_a_window(shedder, LAGGING)
        assert shedder.stats().limit == 3  # 90% of the 4 in flight

        r = await client.get("/work")  # answered while the four still wait: no queue
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == {
            "type": "urn:loopsafe:problem:overloaded",
            "title": "overloaded",
            "status": 503,
            "detail": "The service is overloaded; retry later.",
        }
        assert int(r.headers["content-length"]) == len(r.content)
        assert app.reached == 4, "a shed request never reaches the app"
        assert (await client.get("/health")).status_code == 200, "exempt paths always pass"

        app.release.set()
        assert all(r.status_code == 200 for r in await asyncio.gather(*held))
        _lag_for_a_window(shedder, 0.0, now)
        assert shedder.stats().limit > 3
        assert (await client.get("/work")).status_code == 200
    stats = shedder.stats()
    assert stats == SheddingStats(
        inflight=0, limit=stats.limit, lag=0.0, lagging=False, admitted=5, shed=1
    )


async def test_a_quiet_service_is_never_shed_however_its_loop_lags() -> None:
    app = App()
    app.release.set()
    shedder = _shed(app)
    async with _client(shedder) as client:
        now = 0.0
        for _ in range(20):
            now = _lag_for_a_window(shedder, 1.0, now)
            assert (await client.get("/work")).status_code == 200
    assert shedder.stats().lagging
    assert shedder.stats().limit == 8
    assert shedder.stats().shed == 0


async def test_failed_and_cancelled_requests_leave_nothing_in_flight() -> None:
    app = App()
    shedder = _shed(app)
    async with _client(shedder) as client:
        for _ in range(50):
            assert (await client.get("/boom")).status_code == 500
        waiting = [asyncio.create_task(client.get("/work")) for _ in range(50)]
        await _until(lambda: shedder.inflight == 50, "requests never reached the app")
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    assert shedder.inflight == 0
    assert shedder.stats().admitted == 100


async def test_exempt_paths_and_other_scopes_pass_untouched() -> None:
    app = App()
    shedder = _shed(app, min_limit=1, max_limit=1, exempt={"/work"})
    assert shedder.exempt == frozenset({"/work"})
    seen: list[str] = []

    async def inner(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(str(scope["type"]))

    lifespan = LoadShedding(inner, heartbeat=False)  # type: ignore[arg-type]
    await lifespan({"type": "lifespan"}, _never, _never)  # type: ignore[arg-type]
    assert seen == ["lifespan"]
    async with _client(shedder) as client:
        held = [asyncio.create_task(client.get("/work")) for _ in range(3)]
        await _until(lambda: app.reached == 3, "exempt requests were held back")
        app.release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200] * 3
    assert shedder.stats().admitted == 0


async def _never() -> None:
    raise AssertionError("not called")


def test_bad_settings_are_refused() -> None:
    app = FastAPI()
    with pytest.raises(ValueError, match="interval"):
        LoadShedding(app, interval=0.5, window=0.1)
    with pytest.raises(ValueError, match="retry_after"):
        LoadShedding(app, retry_after=-1)
    with pytest.raises(TypeError, match="paths"):
        LoadShedding(app, exempt="/health")
    with pytest.raises(ValueError, match="target"):
        LoadShedding(app, target_lag=0)


async def test_retry_after_can_be_left_out() -> None:
    app = App()
    shedder = _shed(app, min_limit=1, max_limit=1, retry_after=None)
    async with _client(shedder) as client:
        held = asyncio.create_task(client.get("/work"))
        await _until(lambda: app.reached == 1, "the first request never reached the app")
        r = await client.get("/work")  # the one slot is taken
        app.release.set()
        await held
    assert r.status_code == 503
    assert "retry-after" not in r.headers
    assert json.loads(r.content)["status"] == 503


async def test_probe_reports_each_beats_lag_by_its_clock() -> None:
    clock = [100.0]
    lags: list[tuple[float, float]] = []
    beat = asyncio.Event()

    def on_lag(lag: float, now: float) -> None:
        lags.append((lag, now))
        beat.set()

    probe = LagProbe(0.001, on_lag, clock=lambda: clock[0])
    loop = asyncio.get_running_loop()
    probe.ensure(loop)
    probe.ensure(loop)  # already there: still one heartbeat
    for jump in (0.3, 0.0, 2.5):
        beat.clear()
        clock[0] += jump
        await beat.wait()
    probe.stop()
    assert probe.loop is None
    # Each beat was due one interval after the previous one by the injected clock.
    assert [round(lag, 6) for lag, _ in lags] == [round(0.3 - 0.001, 6), 0.0, 2.5 - 0.001]
    assert [now for _, now in lags] == [100.3, 100.3, 102.8]
    count = len(lags)
    await asyncio.sleep(0.01)
    assert len(lags) == count, "no beat after stop()"


async def test_probe_reports_how_long_its_queued_callback_waited() -> None:
    # A busy loop runs each timer nearly on time but makes queued work wait: the
    # callback a beat queues reads the clock 0.2 s after the beat did.
    readings = iter([100.0, 100.001, 100.001, 100.201])
    last = [100.201]

    def clock() -> float:
        last[0] = next(readings, last[0])
        return last[0]

    got: asyncio.Future[tuple[float, float]] = asyncio.get_running_loop().create_future()

    def on_lag(lag: float, now: float) -> None:
        if not got.done():
            got.set_result((lag, now))

    probe = LagProbe(0.001, on_lag, clock=clock)
    probe.ensure(asyncio.get_running_loop())
    lag, now = await got
    probe.stop()
    assert lag == pytest.approx(0.2)
    assert now == 100.201
