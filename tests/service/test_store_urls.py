"""The service's stores from URLs: two servers on one PostgreSQL share the cache and flags."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from loopsafe.service.settings import Settings
from tests.servers import POSTGRES, server_url
from tests.service.conftest import MakeServer
from tests.service.server import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def shared_url() -> Iterator[str]:
    """A PostgreSQL URL on a schema of this test's own, dropped after."""
    dsn = server_url(POSTGRES)
    schema = f"lt_service_{uuid.uuid4().hex[:10]}"
    yield f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"

    async def drop() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


def test_two_servers_on_one_postgres_share_the_cache_and_the_flags(
    make_server: MakeServer, shared_url: str
) -> None:
    env = {"LOOPSAFE_CACHE_URL": shared_url, "LOOPSAFE_FLAGS_URL": shared_url}
    a, b = make_server(env=env).start(), make_server(env=env).start()
    with a.client(headers=AUTH) as ca, b.client(headers=AUTH) as cb:
        assert ca.get("/ready").status_code == 200
        assert cb.get("/ready").status_code == 200
        assert ca.put("/cache/user:1", json={"plan": "pro"}).status_code < 300
        assert cb.get("/cache/user:1").json() == {"plan": "pro"}
        assert cb.put("/flags/new-checkout", json={"enabled": True}).status_code < 300
        deadline = time.monotonic() + 10  # b's change is announced to a
        while not ca.get("/flags/new-checkout").json()["enabled"]:
            assert time.monotonic() < deadline, "a never saw b's flag change"
            time.sleep(0.02)
    # The queue stayed on each server's own file, the cache and flags left theirs.
    for server in (a, b):
        assert (server.data_dir / "jobs.db").exists()
        assert not (server.data_dir / "cache.db").exists()
        assert not (server.data_dir / "flags.db").exists()


def test_store_urls_default_to_files_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.store_target("cache") == str(tmp_path / "cache.db")
    assert settings.store_target("flags") == str(tmp_path / "flags.db")
    assert settings.store_target("queue") == str(tmp_path / "jobs.db")


def test_a_bad_store_url_is_refused_at_start_without_showing_its_password() -> None:
    with pytest.raises(ValidationError, match="no store backend") as refused:
        Settings(cache_url="mysql://u:hunter2@db/app")  # type: ignore[arg-type]
    assert "hunter2" not in str(refused.value)
    settings = Settings(cache_url="postgresql://u:hunter2@db/app")  # type: ignore[arg-type]
    assert "hunter2" not in repr(settings)
