"""The real servers some tests need: their addresses from the environment, or a skip.

``LOOPSAFE_TEST_POSTGRES`` (``postgresql://postgres@127.0.0.1:5432/test``) and
``LOOPSAFE_TEST_REDIS`` (``redis://127.0.0.1:6379/0``) name them. Where one is unset the
test skips and says why — unless ``LOOPSAFE_TEST_REQUIRE_SERVERS=1`` (``.ci/run`` sets it),
which turns the skip into a failure, so CI cannot pass without running them.
"""

from __future__ import annotations

import os

import pytest

__all__ = ["POSTGRES", "REDIS", "REQUIRE", "server_url"]

POSTGRES = "LOOPSAFE_TEST_POSTGRES"
REDIS = "LOOPSAFE_TEST_REDIS"
REQUIRE = "LOOPSAFE_TEST_REQUIRE_SERVERS"


def server_url(variable: str) -> str:
    """The URL in ``variable``; skips the test (fails it, under ``REQUIRE``) when unset."""
    url = os.environ.get(variable, "").strip()
    if url:
        return url
    reason = f"{variable} is not set (e.g. {variable}=postgresql://postgres@127.0.0.1:5432/test)"
    if variable == REDIS:
        reason = f"{variable} is not set (e.g. {variable}=redis://127.0.0.1:6379/0)"
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {reason}", pytrace=False)
    pytest.skip(reason)
