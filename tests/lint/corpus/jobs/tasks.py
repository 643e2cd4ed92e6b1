"""Tasks: one call reaches both a subprocess and a sleep, two levels down."""

from jobs import retry
from jobs.shell import run


def build() -> None:
    run(["make", "build"])
    retry.backoff(1)


def deploy() -> None:
    build()
