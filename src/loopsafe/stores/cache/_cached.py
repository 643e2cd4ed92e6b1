"""The ``cached`` decorator: an async function's results kept in a Cache, keyed by its
arguments."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

from loopsafe.errors import InvalidKeyError

if TYPE_CHECKING:
    from loopsafe.stores.cache._cache import Cache

__all__ = ["CachedFunction", "make_cached"]

P = ParamSpec("P")
T = TypeVar("T")


class CachedFunction(Generic[P, T]):
    """An async function whose results are cached; call it as the function itself."""

    def __init__(
        self,
        cache: Cache,
        fn: Callable[P, Awaitable[T]],
        *,
        ttl: float | None,
        stale: float,
        tags: Sequence[str],
        key: Callable[..., str] | None,
    ) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"cached() decorates async functions; {fn!r} is not one")
        functools.update_wrapper(self, fn)
        self._cache = cache
        self._fn = fn
        self._ttl, self._stale, self._tags = ttl, stale, tuple(tags)
        self._custom_key = key
        self._signature = inspect.signature(fn)
        self._prefix = f"{fn.__module__}.{fn.__qualname__}:"

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The cache key of this call (see :meth:`Cache.cached`)."""
        if self._custom_key is not None:
            return self._prefix + self._custom_key(*args, **kwargs)
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        try:
            text = json.dumps(bound.arguments, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            raise InvalidKeyError(
                f"the arguments of {self._prefix[:-1]} can't form a cache key (not JSON): "
                f"pass key= to cached()"
            ) from None
        return self._prefix + text

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        async def factory() -> T:
            return await self._fn(*args, **kwargs)

        value: T = await self._cache.get_or_set(
            self.key(*args, **kwargs), factory, ttl=self._ttl, stale=self._stale, tags=self._tags
        )
        return value

    async def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Forget the cached result of this call; whether there was one."""
        return await self._cache.delete(self.key(*args, **kwargs))


def make_cached(
    cache: Cache,
    *,
    ttl: float | None,
    stale: float,
    tags: Sequence[str],
    key: Callable[..., str] | None,
) -> Callable[[Callable[P, Awaitable[T]]], CachedFunction[P, T]]:
    def decorate(fn: Callable[P, Awaitable[T]]) -> CachedFunction[P, T]:
        return CachedFunction(cache, fn, ttl=ttl, stale=stale, tags=tags, key=key)

    return decorate
