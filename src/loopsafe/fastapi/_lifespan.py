"""Open named Databases when the app starts, close them when it stops."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from starlette.applications import Starlette

import loopsafe
from loopsafe.engine import Database

__all__ = ["STATE_KEY", "AppLifespan", "Opener", "lifespan"]

STATE_KEY = "loopsafe_databases"

AppLifespan = Callable[[Starlette], AbstractAsyncContextManager[Any]]
Opener = Callable[[], Awaitable[Database]]
"""Opens one Database, e.g. ``functools.partial(loopsafe.open, "app.db", read_queue=64)``."""


def lifespan(
    inner: AppLifespan | None = None, /, **databases: str | os.PathLike[str] | Opener
) -> AppLifespan:
    """A lifespan for ``FastAPI(lifespan=...)`` that owns the named Databases.

    Each keyword names a Database: a path (opened with ``loopsafe.open``'s
    defaults) or a zero-argument callable that opens it, such as
    ``functools.partial(loopsafe.open, "app.db", read_queue=64)``. They are
    opened in order at startup, on the server's event loop (which then owns
    them), and closed in reverse order at shutdown, also when startup fails
    half-way. ``inner`` is your own lifespan: it runs inside, so it can already
    use the Databases (see :func:`loopsafe.fastapi.get_database`), and whatever
    state it yields is passed on.
    """
    if not databases:
        raise ValueError("name at least one database, e.g. lifespan(default='app.db')")
    openers = {name: _opener(spec) for name, spec in databases.items()}

    @asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[Any]:
        registry: dict[str, Database] | None = getattr(app.state, STATE_KEY, None)
        if registry is None:
            registry = {}
            setattr(app.state, STATE_KEY, registry)
        taken = registry.keys() & openers.keys()
        if taken:
            raise ValueError(f"databases already opened by another lifespan: {sorted(taken)}")
        async with AsyncExitStack() as stack:
            stack.callback(_forget, registry, list(openers))
            for name, open_one in openers.items():
                db = await open_one()
                stack.push_async_callback(db.close)
                registry[name] = db
            if inner is None:
                yield None
            else:
                async with inner(app) as state:
                    yield state

    return run


def _opener(spec: str | os.PathLike[str] | Opener) -> Opener:
    if isinstance(spec, str | os.PathLike):
        path = spec

        async def open_path() -> Database:
            return await loopsafe.open(path)

        return open_path
    if not callable(spec):
        raise TypeError(f"expected a path or a callable that opens a Database, not {spec!r}")
    return spec


def _forget(registry: dict[str, Database], names: list[str]) -> None:
    for name in names:
        registry.pop(name, None)
