"""Open-loop HTTP load generator: fixed arrival rates, latency from the intended send time.

Each target (the DB route, ``/health``) has its own schedule and its own pool of
keep-alive HTTP/1.1 connections, so a slow DB answer never holds up a ``/health``
request. Request ``i`` of a target is *due* at ``t0 + i / rate`` whether or not
earlier ones were answered; its latency is measured from that due time, so time
spent waiting for a free connection (or for this process to wake up) counts
against the server rather than vanishing (no coordinated omission). When all of
a target's ``max_conns`` connections are busy, due requests wait in a FIFO on the
client, still on the clock. Every request gives up ``timeout`` seconds after it
was due, so a job always ends by ``duration + timeout``.

Run as a process (``python -m benchmarks.http.loadgen``) it reads one JSON
:class:`Job` per line on stdin and writes one JSON result per line on stdout,
until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from benchmarks.http import _hist
from benchmarks.http._limits import raise_fd_limit

__all__ = ["Job", "TargetSpec", "main", "run_job"]

_SWEEP_EVERY = 0.02
# uvloop's timers count whole milliseconds and round: a shorter sleep returns at once,
# and sleeping until each due time would spin a core at high rates. Waking at most
# once a millisecond and sending everything due costs each request up to ~1 ms of
# send lag, which counts in its latency (and equally in the baseline).
_MIN_SLEEP = 0.001


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One stream of requests: ``kind="health"`` hits ``/health``; ``"db"`` the DB route."""

    name: str
    kind: Literal["health", "db"]
    rate: float
    rows: int = 1
    write_share: float = 0.0
    max_conns: int = 256


@dataclass(frozen=True, slots=True)
class Job:
    """Drive ``targets`` at their rates for ``duration`` seconds against 127.0.0.1:port."""

    port: int
    duration: float
    targets: tuple[TargetSpec, ...]
    timeout: float = 5.0
    seed: int = 1
    host: str = "127.0.0.1"

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Job:
        """The Job :meth:`to_json` wrote."""
        raw = json.loads(text)
        raw["targets"] = tuple(TargetSpec(**t) for t in raw["targets"])
        return cls(**raw)


class _Req:
    __slots__ = ("data", "due")

    def __init__(self, due: float, data: bytes) -> None:
        self.due = due
        self.data = data


class _Conn(asyncio.Protocol):
    """One keep-alive connection; at most one request outstanding on it."""

    def __init__(self, target: _Target) -> None:
        self.target = target
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.req: _Req | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.target.opened(self)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0 or not head.startswith(b"http/1.1 "):
            # Our server always sends Content-Length; anything else is a broken answer.
            self.target.failed(self, status=0)
            return
        stop = head.find(b"\r\n", at + 2)
        total = end + 4 + int(head[at + 17 : stop if stop >= 0 else len(head)])
        if len(buf) < total:
            return
        del buf[:total]
        close = b"\r\nconnection: close" in head
        self.target.answered(self, int(head[9:12]), close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.target.lost(self)


@dataclass
class _Stats:
    sent: int = 0
    ok: int = 0
    shed: int = 0
    errors: int = 0
    timeouts: int = 0
    connect_errors: int = 0
    queued_on_client: int = 0
    max_in_flight: int = 0
    max_waiting: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    all: Any = field(default_factory=_hist.new)
    ok_hist: Any = field(default_factory=_hist.new)
    shed_hist: Any = field(default_factory=_hist.new)
    lag: Any = field(default_factory=_hist.new)


class _Target:
    """A target's schedule, connection pool and numbers."""

    def __init__(self, spec: TargetSpec, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        self.spec = spec
        self.job = job
        self.loop = loop
        self.rng = random.Random(f"{job.seed}:{spec.name}")
        self.idle: list[_Conn] = []
        self.busy: set[_Conn] = set()
        self.opening = 0
        self.waiting: deque[_Req] = deque()
        self.closing = False
        self.stats = _Stats()

    # -- requests ------------------------------------------------------------------------

    def request(self, due: float) -> _Req:
        spec = self.spec
        if spec.kind == "health":
            return _Req(due, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        k = self.rng.randrange(spec.rows)
        if spec.write_share > 0 and self.rng.random() < spec.write_share:
            data = b"POST /db/write?k=%d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
        else:
            data = b"GET /db/read?k=%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        return _Req(due, data % k)

    def submit(self, req: _Req) -> None:
        self.stats.sent += 1
        if not self.idle:
            self.stats.queued_on_client += 1
        self.waiting.append(req)

    def pump(self) -> None:
        """Send waiting requests on idle connections; open more when there are none."""
        waiting, idle, stats = self.waiting, self.idle, self.stats
        while waiting and idle:
            conn = idle.pop()
            req = waiting.popleft()
            conn.req = req
            assert conn.transport is not None
            conn.transport.write(req.data)
            _hist.record(stats.lag, time.perf_counter() - req.due)
            self.busy.add(conn)
        stats.max_in_flight = max(stats.max_in_flight, len(self.busy))
        stats.max_waiting = max(stats.max_waiting, len(waiting))
        want = len(waiting) - self.opening
        while want > 0 and not self.closing and self.connections < self.spec.max_conns:
            self.open_one()
            want -= 1

    @property
    def connections(self) -> int:
        return len(self.idle) + len(self.busy) + self.opening

    @property
    def outstanding(self) -> int:
        return len(self.busy) + len(self.waiting)

    def _finish(self, req: _Req, status: int, now: float) -> None:
        stats = self.stats
        latency = now - req.due
        _hist.record(stats.all, latency)
        if 200 <= status < 300:
            stats.ok += 1
            _hist.record(stats.ok_hist, latency)
        elif status == 503:
            stats.shed += 1
            _hist.record(stats.shed_hist, latency)
        else:
            stats.errors += 1
            stats.statuses[status] += 1

    # -- connection events ---------------------------------------------------------------

    def open_one(self) -> asyncio.Task[None]:
        self.opening += 1
        return self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            await self.loop.create_connection(lambda: _Conn(self), self.job.host, self.job.port)
        except OSError:
            self.opening -= 1
            self.stats.connect_errors += 1

    def opened(self, conn: _Conn) -> None:
        self.opening -= 1
        if self.closing:
            assert conn.transport is not None
            conn.transport.close()
            return
        self.idle.append(conn)
        self.pump()

    def answered(self, conn: _Conn, status: int, close: bool) -> None:
        req, conn.req = conn.req, None
        self.busy.discard(conn)
        if req is not None:
            self._finish(req, status, time.perf_counter())
        if close:
            assert conn.transport is not None
            conn.transport.close()
        else:
            self.idle.append(conn)
        self.pump()

    def failed(self, conn: _Conn, status: int) -> None:
        req, conn.req = conn.req, None
        if req is not None:
            self._finish(req, status, time.perf_counter())
        assert conn.transport is not None
        conn.transport.abort()

    def lost(self, conn: _Conn) -> None:
        req, conn.req = conn.req, None
        if req is not None:
            self._finish(req, 0, time.perf_counter())
        self.busy.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if not self.closing:
            self.pump()

    def sweep(self, now: float) -> None:
        """Give up on requests due more than ``timeout`` ago (their connections are dropped)."""
        stats = self.stats
        oldest = now - self.job.timeout
        while self.waiting and self.waiting[0].due < oldest:
            req = self.waiting.popleft()
            stats.timeouts += 1
            _hist.record(stats.all, now - req.due)
        for conn in [c for c in self.busy if c.req is not None and c.req.due < oldest]:
            assert conn.req is not None
            assert conn.transport is not None
            stats.timeouts += 1
            _hist.record(stats.all, now - conn.req.due)
            conn.req = None
            self.busy.discard(conn)
            conn.transport.abort()

    def close(self) -> None:
        self.closing = True
        for conn in [*self.idle, *self.busy]:
            if conn.transport is not None:
                conn.transport.abort()
        self.idle.clear()
        self.busy.clear()

    def result(self, duration: float) -> dict[str, Any]:
        s = self.stats
        return {
            "name": self.spec.name,
            "kind": self.spec.kind,
            "rate": self.spec.rate,
            "sent": s.sent,
            "ok": s.ok,
            "shed": s.shed,
            "errors": s.errors,
            "timeouts": s.timeouts,
            "connect_errors": s.connect_errors,
            "statuses": {str(k): v for k, v in sorted(s.statuses.items())},
            "achieved": s.ok / duration,
            "queued_on_client": s.queued_on_client,
            "max_in_flight": s.max_in_flight,
            "max_waiting": s.max_waiting,
            "hist_all": _hist.encode(s.all),
            "hist_ok": _hist.encode(s.ok_hist),
            "hist_shed": _hist.encode(s.shed_hist),
            "hist_lag": _hist.encode(s.lag),
        }


async def _schedule(target: _Target, t0: float, duration: float) -> None:
    """Submit request i at t0 + i/rate; after a late wake-up, submit all that are due."""
    rate = target.spec.rate
    total = math.floor(duration * rate)
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due = t0 + sent / rate
        if due > now:
            await asyncio.sleep(max(due - now, _MIN_SLEEP))
            continue
        upto = min(total, math.floor((now - t0) * rate) + 1)
        while sent < upto:
            target.submit(target.request(t0 + sent / rate))
            sent += 1
        target.pump()


async def _sweep(targets: list[_Target]) -> None:
    while True:
        await asyncio.sleep(_SWEEP_EVERY)
        now = time.perf_counter()
        for target in targets:
            target.sweep(now)
            target.pump()


async def run_job(job: Job) -> dict[str, Any]:
    """Run one job on the running loop; the result is JSON-ready (histograms base64)."""
    loop = asyncio.get_running_loop()
    targets = [_Target(spec, job, loop) for spec in job.targets if spec.rate > 0]
    # Open the connections a target will likely need up front, so the measured window
    # does not start with a burst of connects.
    await asyncio.gather(
        *(
            t.open_one()
            for t in targets
            for _ in range(min(t.spec.max_conns, math.ceil(t.spec.rate * 0.005) + 2))
        )
    )
    cpu0 = time.process_time()
    t0 = time.perf_counter() + 0.01
    sweeper = loop.create_task(_sweep(targets))
    try:
        await asyncio.gather(*(_schedule(t, t0, job.duration) for t in targets))
        give_up = t0 + job.duration + job.timeout + 2 * _SWEEP_EVERY
        # Polled: answers, losses and the sweeper all change what is outstanding.
        while any(t.outstanding for t in targets) and time.perf_counter() < give_up:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    finally:
        sweeper.cancel()
        for target in targets:
            target.close()
    await asyncio.sleep(0)  # let aborted transports report connection_lost
    return {
        "duration": job.duration,
        "elapsed": elapsed,
        "cpu_seconds": cpu,
        "targets": {t.spec.name: t.result(job.duration) for t in targets},
    }


def main(argv: list[str] | None = None) -> int:
    """Serve jobs from stdin (one JSON per line) until it closes."""
    import uvloop

    raise_fd_limit()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                result = runner.run(run_job(Job.from_json(line)))
            except Exception as exc:  # reported to the harness, which decides
                result = {"error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
