"""Hand the lifespan's Databases to routes through ``Depends``."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from loopsafe.engine import Database
from loopsafe.fastapi._lifespan import STATE_KEY

__all__ = ["DatabaseDep", "database", "get_database"]


def get_database(app: Starlette, name: str = "default") -> Database:
    """The Database that :func:`loopsafe.fastapi.lifespan` opened under ``name``.

    Raises ``LookupError`` when there is none (the lifespan is not installed,
    the app has not started, or the name is wrong).
    """
    registry: dict[str, Database] | None = getattr(app.state, STATE_KEY, None)
    if registry is None:
        raise LookupError(
            "no loopsafe databases on this app: pass"
            " FastAPI(lifespan=loopsafe.fastapi.lifespan(...)) and run it under a server"
            " that runs the lifespan"
        )
    try:
        return registry[name]
    except KeyError:
        raise LookupError(
            f"no loopsafe database named {name!r} (opened: {sorted(registry)})"
        ) from None


def database(name: str = "default") -> Callable[[HTTPConnection], Awaitable[Database]]:
    """A dependency giving the Database named ``name``: ``db: Database = Depends(database())``.

    The same name always gives the same dependency, so FastAPI resolves it
    once per request however many times it appears.
    """
    return _dependency(name)


@functools.cache
def _dependency(name: str) -> Callable[[HTTPConnection], Awaitable[Database]]:
    # async on purpose: FastAPI runs plain-def dependencies in its threadpool,
    # which would cost a thread hop on every request.
    async def dependency(connection: HTTPConnection) -> Database:
        return get_database(connection.app, name)

    dependency.__name__ = f"loopsafe_database_{name}"
    return dependency


DatabaseDep = Annotated[Database, Depends(database())]
"""``db: DatabaseDep`` in a route's parameters gives the ``default`` Database."""
