"""Retries with a sync backoff: sleeps block."""

from collections.abc import Callable
from time import sleep as pause


def backoff(attempt: int) -> None:
    pause(2**attempt)


def with_retries(action: Callable[[], object], attempts: int = 3) -> object:
    for attempt in range(attempts):
        try:
            return action()
        except OSError:
            backoff(attempt)
    return None
