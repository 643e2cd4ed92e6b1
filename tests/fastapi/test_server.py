"""loopsafe.fastapi under a real uvicorn process on 127.0.0.1, errors triggered for real."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.processes import stop

APP = Path(__file__).with_name("app.py")


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    marker: Path


def _wait_ready(served: Served, deadline: float) -> None:
    while time.monotonic() < deadline:
        if served.proc.poll() is not None:
            raise RuntimeError(f"server exited with {served.proc.returncode}")
        try:
            if httpx.get(served.url + "/value", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not answer in time")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        marker = tmp_path / "marker.txt"
        proc = subprocess.Popen(
            [
                *(sys.executable, str(APP), "--db", str(tmp_path / "app.db")),
                *("--fd", str(sock.fileno()), "--marker", str(marker)),
            ],
            pass_fds=(sock.fileno(),),
        )
    server = Served(proc, f"http://127.0.0.1:{port}", marker)
    try:
        _wait_ready(server, time.monotonic() + 30)
        yield server
    finally:
        stop(proc)


async def test_depends_gives_the_database(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as client:
        r = await client.get("/value")
    assert r.status_code == 200
    assert r.json() == {"value": 42}


async def test_full_queue_answers_503_with_retry_after(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        slow = asyncio.create_task(client.get("/slow", params={"n": 5_000_000}))
        await asyncio.sleep(0.2)  # let the slow read take the only read slot first
        shed: httpx.Response | None = None
        while not slow.done() and shed is None:
            r = await client.get("/value")
            if r.status_code == 503:
                shed = r
            await asyncio.sleep(0.01)
        assert (await slow).status_code == 200
    assert shed is not None, "the slow read never filled the one-slot queue"
    assert shed.headers["retry-after"] == "2"
    assert shed.json()["error"] == "overloaded"


async def test_deadline_answers_504(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        r = await client.get("/slow", params={"n": 1_000_000_000, "timeout": 0.1})
        assert r.status_code == 504
        assert "retry-after" not in r.headers
        assert r.json()["error"] == "timeout"
        # Left running, that count would hold the only read slot for minutes.
        for _ in range(100):
            if (await client.get("/value")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the timed-out statement kept its reader")


def test_lifespan_opens_and_closes(served: Served) -> None:
    assert served.marker.read_text() == "opened\n"
    stop(served.proc)
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
    assert served.proc.returncode in (0, -signal.SIGTERM)
    assert served.marker.read_text() == "opened\nclosed\n"


async def _wave(client: httpx.AsyncClient, n: int = 64) -> list[httpx.Response]:
    """``n`` requests at once, each needing the loop twice (in, and after its wait).
    Each stays in flight for half a second, so that however slowly this client sends
    them (it is slower than the server), most are in flight together."""
    return await asyncio.gather(*(client.get("/wait", params={"seconds": 0.5}) for _ in range(n)))


async def test_blocked_loop_sheds_at_the_door_and_recovers(served: Served) -> None:
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with httpx.AsyncClient(base_url=served.url, timeout=60, limits=limits) as client:
        assert all(r.status_code == 200 for r in await _wave(client)), "shed on a free loop"
        # The server's loop blocked 50 ms at a time (ten times the lag target) for 6 s.
        hog = await client.post("/hog", params={"seconds": 6, "block": 0.05})
        assert hog.status_code == 200
        shed: list[httpx.Response] = []
        waves = 0
        while not shed and waves < 20:
            waves += 1
            shed = [r for r in await _wave(client) if r.status_code == 503]
            assert (await client.get("/health")).status_code == 200, "exempt path shed"
        stats = (await client.get("/health/shedding")).json()
        assert shed, f"a loop blocked for seconds never shed a request: {stats}"
        r = shed[0]
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["title"] == "overloaded"
        # Once the loop is free again the limit grows back and every request is served.
        for _ in range(100):
            if all(r.status_code == 200 for r in await _wave(client)):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the door kept shedding after the loop recovered")
