"""``loopsafe migrate TARGET``: the stores' migrations as a deploy step, on both backends."""

from __future__ import annotations

import subprocess
import sys

from loopsafe import Cache, Flags

from .conftest import Backend


def migrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loopsafe", "migrate", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_brings_every_store_to_its_version_once(backend: Backend) -> None:
    target = backend.target("m")
    first = migrate(target)
    assert first.returncode == 0, first.stderr
    assert "cache: schema version 1" in first.stdout
    assert "flags: schema version 1" in first.stdout
    again = migrate(target, "--store", "cache")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "cache: schema version 1\n"


async def test_stores_open_on_what_migrate_made(backend: Backend) -> None:
    target = backend.target("m")
    assert migrate(target, "--store", "cache", "--store", "flags").returncode == 0
    async with Cache(target) as cache, Flags(target) as flags:
        await cache.set("k", 1)
        await flags.set("f", enabled=True)
        assert await cache.get("k") == 1


async def test_a_newer_schema_fails_the_deploy_step_and_nothing_is_written(
    backend: Backend,
) -> None:
    target = backend.target("m")
    assert migrate(target, "--store", "flags").returncode == 0
    sql = "UPDATE loopsafe_schema SET version = 7 WHERE store = 'flags'"
    if backend.name == "postgresql":
        conn = await backend.connect("m")
        await conn.execute(sql)
        await conn.close()
    else:
        async with Flags(target) as flags:
            await flags.database.execute(sql)
    refused = migrate(target, "--store", "flags")
    assert refused.returncode == 1
    assert "schema version 7" in refused.stderr or "at version 7" in refused.stderr


def test_a_target_no_backend_serves_is_a_usage_error() -> None:
    refused = migrate("mysql://db/app")
    assert refused.returncode == 2
    assert "no store backend for 'mysql'" in refused.stderr
