"""docs/examples/sqlmodel_app.py end to end: a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import stop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "docs.examples.sqlmodel_app:app", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "HEROES_DB": str(tmp_path / "heroes.db")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                httpx.get(url + "/heroes/", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        stop(proc)


async def test_crud_through_sqlmodel_on_loopsafe(served: str) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=30) as client:
        # Concurrent creates: each its own session, each committing.
        made = await asyncio.gather(
            *(client.post("/heroes/", json={"name": f"hero {n}", "age": n}) for n in range(20))
        )
        assert all(r.status_code == 201 for r in made)
        ids = sorted(r.json()["id"] for r in made)
        assert len(set(ids)) == 20
        assert len((await client.get("/heroes/")).json()) == 20
        first = ids[0]
        changed = await client.patch(f"/heroes/{first}", json={"age": 99})
        assert changed.json()["age"] == 99
        assert (await client.get(f"/heroes/{first}")).json()["age"] == 99
        assert (await client.delete(f"/heroes/{first}")).status_code == 204
        assert (await client.get(f"/heroes/{first}")).status_code == 404
        assert len((await client.get("/heroes/")).json()) == 19
