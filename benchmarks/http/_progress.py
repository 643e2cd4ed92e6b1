"""A rich progress bar on stderr, or plain lines when it is turned off."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress

__all__ = ["Progress"]


class Progress:
    """Counts finished units (baselines, capacity searches, load levels) and says what runs."""

    def __init__(self, total: int, live: bool) -> None:
        console = Console(stderr=True)
        # Without a terminal (CI, a log file) a bar shows nothing: print lines instead.
        self._live = live and console.is_terminal
        self._start = time.monotonic()
        self._bar = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=4,
            disable=not self._live,
        )
        self._task = self._bar.add_task("starting", total=total)

    def __enter__(self) -> Progress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def note(self, text: str) -> None:
        """Say what runs now."""
        self._bar.update(self._task, description=text)
        if not self._live:
            print(f"[{time.monotonic() - self._start:6.1f}s] {text}", file=sys.stderr, flush=True)

    def advance(self) -> None:
        """One unit done."""
        self._bar.advance(self._task)
