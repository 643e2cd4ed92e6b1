"""Opening PostgreSQL for a store: an asyncpg pool whose connections see the store's schema.

asyncpg is natively async (no thread hop per call) and an optional dependency
(``pip install loopsafe[postgres]``): it is imported only when a store opens a
``postgresql://`` target, so SQLite users never need it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Coroutine, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from loopsafe.errors import CannotOpenError, Error, ServerError
from loopsafe.stores._target import PostgresTarget

if TYPE_CHECKING:
    import asyncpg

__all__ = ["affected", "asyncpg_module", "connect", "driver_errors", "open_pool", "server_errors"]

P = ParamSpec("P")
T = TypeVar("T")

CONNECT_TIMEOUT = 10.0  # seconds; asyncpg's default is 60, too long to learn a typo


def asyncpg_module() -> ModuleType:
    """The asyncpg module, or :class:`~loopsafe.CannotOpenError` saying how to install it."""
    try:
        return importlib.import_module("asyncpg")
    except ImportError as e:
        raise CannotOpenError(
            "a postgresql:// store needs asyncpg: pip install 'loopsafe[postgres]'"
        ) from e


def _settings(target: PostgresTarget, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    # Unqualified names in the stores' SQL resolve in the store's schema only; pg_catalog
    # is always searched first, so built-in functions still resolve.
    server = {"search_path": target.schema, "application_name": "loopsafe", **(extra or {})}
    return {"server_settings": server, "timeout": CONNECT_TIMEOUT}


async def open_pool(
    target: PostgresTarget, settings: Mapping[str, str] | None = None
) -> asyncpg.Pool[asyncpg.Record]:
    """A pool of ``target.pool_size`` connections to ``target``, all of them connected,
    each with the server ``settings`` given (e.g. ``{"lock_timeout": "5s"}``) besides the
    store's schema as its ``search_path``.

    Raises :class:`~loopsafe.CannotOpenError` when the server can't be reached or refuses
    the login (the message names the server, never the password). A cancel closes the
    connections made so far.
    """
    apg = asyncpg_module()
    try:
        pool: asyncpg.Pool[asyncpg.Record] = await apg.create_pool(
            target.dsn,
            min_size=min(2, target.pool_size),
            max_size=target.pool_size,
            **_settings(target, settings),
        )
    except (OSError, TimeoutError, apg.PostgresError, apg.InterfaceError) as e:
        raise CannotOpenError(f"can't open {target.describe()}: {e}") from e
    return pool


async def connect(target: PostgresTarget) -> asyncpg.Connection[asyncpg.Record]:
    """One connection of its own (for LISTEN, which must outlive any pooled checkout).
    Raises as :func:`open_pool`."""
    apg = asyncpg_module()
    try:
        conn: asyncpg.Connection[asyncpg.Record] = await apg.connect(
            target.dsn, **_settings(target)
        )
    except (OSError, TimeoutError, apg.PostgresError, apg.InterfaceError) as e:
        raise CannotOpenError(f"can't open {target.describe()}: {e}") from e
    return conn


def server_errors(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Wrap a backend method so the server's failures reach callers as loopsafe's
    :class:`~loopsafe.ServerError` (the driver's own exception as its ``__cause__``), as
    the SQLite backends' reach them as loopsafe errors. loopsafe's errors, cancellation and
    the timeouts a caller asked for pass through unchanged."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except Error:
            raise
        except driver_errors() as e:
            if isinstance(e, TimeoutError):
                raise
            raise ServerError(f"the PostgreSQL server failed the call: {e!r}") from e

    return call


@functools.cache
def driver_errors() -> tuple[type[Exception], ...]:
    """What asyncpg raises when the server fails a call or the connection is lost."""
    apg = asyncpg_module()
    return (OSError, apg.PostgresError, apg.InterfaceError)


def affected(status: str) -> int:
    """The row count of a command status such as ``UPDATE 3`` or ``INSERT 0 1``."""
    return int(status.rsplit(" ", 1)[-1])
