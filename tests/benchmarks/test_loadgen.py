"""The open-loop load generator against a tiny in-process HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from benchmarks.http import _hist
from benchmarks.http.loadgen import Job, TargetSpec, run_job


def _answer(status: int, body: bytes = b"{}") -> bytes:
    reason = {200: b"OK", 503: b"Service Unavailable"}.get(status, b"X")
    return b"HTTP/1.1 %d %s\r\ncontent-length: %d\r\n\r\n%s" % (status, reason, len(body), body)


class _Server:
    """Answers each request with ``answer(path)``; ``stall`` seconds before the first one."""

    def __init__(self, answer: Callable[[bytes], bytes | None], stall: float = 0.0) -> None:
        self.answer = answer
        self.stall = stall
        self.requests = 0
        self.port = 0
        self.handlers: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                if self.requests == 1 and self.stall:
                    await asyncio.sleep(self.stall)
                reply = self.answer(head.split(b" ", 2)[1])
                if reply is None:  # never answer
                    await asyncio.sleep(3600)
                writer.write(reply or b"")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[..., Awaitable[_Server]]]:
    servers: list[asyncio.Server] = []
    fakes: list[_Server] = []

    async def start(answer: Callable[[bytes], bytes | None], stall: float = 0.0) -> _Server:
        fake = _Server(answer, stall)
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
        servers.append(server)
        fakes.append(fake)
        fake.port = server.sockets[0].getsockname()[1]
        return fake

    yield start
    for server in servers:
        server.close()
    handlers = [task for fake in fakes for task in fake.handlers]
    for task in handlers:
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)


async def test_counts_and_status_classes(
    make_server: Callable[..., Awaitable[_Server]],
) -> None:
    def answer(path: bytes) -> bytes:
        return _answer(503 if path.startswith(b"/db/write") else 200)

    fake = await make_server(answer)
    job = Job(
        port=fake.port,
        duration=0.5,
        targets=(
            TargetSpec("db", "db", 200.0, rows=100, write_share=0.5),
            TargetSpec("health", "health", 40.0),
        ),
        timeout=2.0,
        seed=7,
    )
    first = await run_job(job)
    db, health = first["targets"]["db"], first["targets"]["health"]
    assert db["sent"] == 100
    assert health["sent"] == 20
    assert health["ok"] == 20
    assert db["ok"] + db["shed"] == 100
    assert 0 < db["shed"] < 100
    assert db["errors"] == db["timeouts"] == 0
    assert _hist.decode(db["hist_shed"]).get_total_count() == db["shed"]
    again = await run_job(job)
    assert again["targets"]["db"]["shed"] == db["shed"], "same seed, same requests"


async def test_unanswered_requests_time_out_and_the_job_ends(
    make_server: Callable[..., Awaitable[_Server]],
) -> None:
    fake = await make_server(lambda path: None)
    job = Job(
        port=fake.port,
        duration=0.3,
        targets=(TargetSpec("db", "db", 50.0, rows=10, max_conns=4),),
        timeout=0.3,
    )
    result = await asyncio.wait_for(run_job(job), 10)
    db = result["targets"]["db"]
    assert db["sent"] == 15
    assert db["timeouts"] == 15
    assert db["ok"] == 0
    assert db["max_in_flight"] <= 4


async def test_latency_counts_from_the_intended_send_time(
    make_server: Callable[..., Awaitable[_Server]],
) -> None:
    # One connection, and the server stalls 300 ms on the first request: requests due
    # meanwhile wait on the client. Measured from when they were sent, only one request
    # would look slow (coordinated omission); measured from when they were due, the 20
    # due in the first 200 ms (40%) are slower than 100 ms.
    fake = await make_server(lambda path: _answer(200), stall=0.3)
    job = Job(
        port=fake.port,
        duration=0.5,
        targets=(TargetSpec("health", "health", 100.0, max_conns=1),),
        timeout=5.0,
    )
    result = await run_job(job)
    hist = _hist.decode(result["targets"]["health"]["hist_ok"])
    assert hist.get_total_count() == 50
    assert hist.get_value_at_percentile(70) >= 100_000  # microseconds


def test_job_json_round_trip() -> None:
    job = Job(port=1, duration=2.0, targets=(TargetSpec("h", "health", 5.0),), seed=3)
    assert Job.from_json(job.to_json()) == job
