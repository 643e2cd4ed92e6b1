"""Labels for tasks (the HTTP route a task serves), read by the watchdog thread.

A label is set by the task itself (an ASGI middleware) and read from the watchdog
thread while the loop is stalled, so it lives in a plain dict keyed by task rather
than in a context variable (another thread cannot read a task's context).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = ["label_of", "labelled", "set_label"]

_labels: dict[asyncio.Task[Any], str | Mapping[str, Any]] = {}


def set_label(task: asyncio.Task[Any], label: str | Mapping[str, Any] | None) -> None:
    """Label ``task`` (a string, or an ASGI scope read lazily); ``None`` removes it."""
    if label is None:
        _labels.pop(task, None)
    else:
        _labels[task] = label


@contextmanager
def labelled(label: str | Mapping[str, Any]) -> Iterator[None]:
    """Label the current task for the duration of the block (no-op outside a task)."""
    task = asyncio.current_task()
    if task is None:
        yield
        return
    previous = _labels.get(task)
    _labels[task] = label
    try:
        yield
    finally:
        set_label(task, previous)


def label_of(task: asyncio.Task[Any]) -> str | None:
    """The label of ``task`` as text (an ASGI scope becomes ``METHOD /route/{param}``)."""
    label = _labels.get(task)
    if label is None or isinstance(label, str):
        return label
    return scope_label(label)


def scope_label(scope: Mapping[str, Any]) -> str:
    """``METHOD path`` for an ASGI scope, using the route template once routing matched."""
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get("path", "?")
    method = scope.get("method")
    return f"{method} {path}" if method else str(path)
