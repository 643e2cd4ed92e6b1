"""Fixtures for the FastAPI integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.watch.watch_stalls import Stalls


@pytest.fixture(scope="session")
def stalls() -> Iterator[Stalls]:
    """Stalls of each kind, calibrated once for the session (for instrument())."""
    s = Stalls()
    yield s
    s.close()
