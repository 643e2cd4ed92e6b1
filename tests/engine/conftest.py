from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import loopsafe


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "test.db"


@pytest.fixture
async def db(path: Path) -> AsyncIterator[loopsafe.Database]:
    async with loopsafe.open(path) as database:
        await database.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, n INTEGER)"
        )
        yield database
