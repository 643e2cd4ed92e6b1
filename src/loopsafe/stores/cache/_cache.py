"""The Cache: a key-value cache with TTLs, bounds and single-flight fills, on a store file."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from loopsafe.errors import ClosedError, Error, InvalidKeyError, ValueTooLargeError
from loopsafe.stores._store import Store, StoreTarget
from loopsafe.stores.cache._backend import CacheBackend, Entry, Maintenance
from loopsafe.stores.cache._batch import ReadBatcher
from loopsafe.stores.cache._cached import CachedFunction, make_cached
from loopsafe.stores.cache._postgres import PostgresCacheBackend
from loopsafe.stores.cache._postgres import migrations as postgres_migrations
from loopsafe.stores.cache._serializers import JSONSerializer, Serializer
from loopsafe.stores.cache._sqlite import MIGRATIONS, Eviction, SQLiteCacheBackend
from loopsafe.stores.cache._stats import CacheStats

__all__ = ["Cache"]

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("loopsafe.cache")

_GAVE_UP: Any = object()  # a background refresh that found another process filling

MAINTAIN_EVERY = 64  # writes between background maintenance passes
SWEEP_BATCH = 256  # expired rows removed per pass


class Cache(Store):
    """A cache in a SQLite file or a PostgreSQL schema, shared by every process that
    opens it.

    ``Cache("var/cache.db")`` (or a ``sqlite:///`` URL, or an open Database to share its
    file, or a ``postgresql://host/db?schema=...`` URL for a cache shared by several
    hosts), then ``async with cache:`` or ``await cache.open()``. Gets that arrive while
    another is on its way to storage go together in one query. Both backends keep the
    same semantics; what follows holds for each.

    - ``namespace``: the key space of this object's calls (another namespace on the same
      file: another ``Cache`` on the same Database, or ``clear(namespace=...)``).
    - ``max_entries`` / ``max_bytes`` (default none / 1 GiB of values): bounds for the whole
      file. Past one, the least recently stored entries are evicted (``eviction="fifo"``:
      the first stored; an overwrite keeps its place). Reads never write, so a read does not
      save an entry from eviction. A write that takes the cache past a bound returns once
      the bound holds again; other writes schedule maintenance in the background.
    - ``max_value_size`` (default 16 MiB): a larger serialized value raises
      :class:`~loopsafe.ValueTooLargeError` and the key's old value stays.
    - ``serializer``: :class:`JSONSerializer` by default (bytes, str, JSON);
      ``PickleSerializer()`` only when asked for, and only for files nobody untrusted writes.
    - ``clock``: wall-clock seconds (``time.time``); expiry times are compared across
      processes. Tests pass a fake clock.
    - ``lock_timeout`` (10 s), ``lock_poll`` (50 ms): the cross-process fill lock of
      :meth:`get_or_set` — how long it holds at most, and how often a process waiting for
      another process's fill looks for the value.
    - ``sweep_interval`` (60 s): how often expired entries are removed in the background.
    - On PostgreSQL a cancelled call cancels its statement on the server and rolls back
      its transaction; a server that fails the call or drops the connection raises
      :class:`~loopsafe.ServerError` (the pool reconnects for the next call).
    - ``unlogged`` (PostgreSQL only, default false): create the tables UNLOGGED — writes
      skip the write-ahead log, but the server empties them after a crash and standbys
      never see them. Chosen when the tables are created; opening them the other way
      raises :class:`~loopsafe.StoreError`. ``ValueError`` on SQLite.
    """

    schema = "cache"
    migrations = MIGRATIONS
    postgres_migrations = postgres_migrations(unlogged=False)

    def __init__(
        self,
        target: StoreTarget,
        *,
        namespace: str = "default",
        max_entries: int | None = None,
        max_bytes: int | None = 1 << 30,
        max_value_size: int = 16 << 20,
        eviction: Eviction = "least-recently-stored",
        serializer: Serializer | None = None,
        clock: Callable[[], float] = time.time,
        lock_timeout: float = 10.0,
        lock_poll: float = 0.05,
        sweep_interval: float = 60.0,
        unlogged: bool = False,
        open_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(target, open_options=open_options)
        if unlogged and self.backend != "postgresql":
            raise ValueError("unlogged=True is for a cache on PostgreSQL")
        self.unlogged = unlogged
        if unlogged:
            self.postgres_migrations = postgres_migrations(unlogged=True)
        _check_name(namespace, "namespace")
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be at least 1 (or None for no bound)")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be at least 1 (or None for no bound)")
        if max_value_size < 1:
            raise ValueError("max_value_size must be at least 1")
        if max_bytes is not None and max_value_size > max_bytes:
            raise ValueError("max_value_size can't be larger than max_bytes")
        if eviction not in ("least-recently-stored", "fifo"):
            raise ValueError("eviction must be 'least-recently-stored' or 'fifo'")
        for name, value in (
            ("lock_timeout", lock_timeout),
            ("lock_poll", lock_poll),
            ("sweep_interval", sweep_interval),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive")
        self.namespace = namespace
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_value_size = max_value_size
        self.eviction: Eviction = eviction
        self._serializer: Serializer = serializer or JSONSerializer()
        self._clock = clock
        self._lock_timeout = lock_timeout
        self._lock_poll = lock_poll
        self._sweep_interval = sweep_interval
        self._backend: CacheBackend | None = None
        self._reads: ReadBatcher | None = None
        self._flights: dict[str, asyncio.Task[Any]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._pass_runner: asyncio.Task[None] | None = None
        self._next_pass: asyncio.Future[Maintenance] | None = None
        self._since_writes = 0
        self._since_bytes = 0
        self._counts = dict.fromkeys(
            ("hits", "misses", "stale_hits", "sets", "deletes", "factory_calls"), 0
        )
        self._expired = self._evictions = self._entries = self._bytes = 0

    # -- reading -------------------------------------------------------------------------

    async def get(self, key: str, default: Any = None) -> Any:
        """The fresh value under ``key``, or ``default`` (missing or expired).

        Never writes. A cancel or a deadline of the Database stops only this read.
        Raises :class:`~loopsafe.InvalidKeyError` for a key that is not a non-empty str,
        :class:`~loopsafe.SerializationError` for a stored value this serializer can't read.
        """
        _check_key(key)
        reads = self._reads
        if reads is None:
            self._b()  # raises: not open, or closed
            raise AssertionError("unreachable")
        row = await reads.get(key)
        if row is None or not row.fresh(self._clock()):
            self._counts["misses"] += 1
            return default
        self._counts["hits"] += 1
        return self._serializer.loads(row.kind, row.data)

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The fresh values among ``keys``, as a dict (missing keys are left out)."""
        wanted = list(keys)
        for key in wanted:
            _check_key(key)
        rows = await self._b().get_many(self.namespace, wanted)
        now = self._clock()
        out: dict[str, Any] = {}
        for key in dict.fromkeys(wanted):
            row = rows.get(key)
            if row is None or not row.fresh(now):
                self._counts["misses"] += 1
            else:
                self._counts["hits"] += 1
                out[key] = self._serializer.loads(row.kind, row.data)
        return out

    async def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires; ``math.inf`` if it never does; ``None`` if it is
        missing or expired."""
        _check_key(key)
        row = await self._b().get(self.namespace, key)
        now = self._clock()
        if row is None or not row.fresh(now):
            return None
        return math.inf if row.expires_at is None else row.expires_at - now

    # -- writing -------------------------------------------------------------------------

    async def set(
        self,
        key: str,
        value: Any,
        *,
        ttl: float | None = None,
        stale: float = 0.0,
        tags: Sequence[str] = (),
    ) -> None:
        """Store ``value`` under ``key``, replacing any value and its tags.

        ``ttl``: seconds the value is fresh (``None``: until evicted). ``stale``: seconds
        past ``ttl`` during which :meth:`get_or_set` still serves it while it refreshes it
        (the hard TTL is ``ttl + stale``; :meth:`get` never serves a stale value).
        ``tags``: names for :meth:`invalidate_tags`.

        Returns after the write is committed. Raises :class:`~loopsafe.ValueTooLargeError`
        or :class:`~loopsafe.SerializationError` before writing anything (the old value
        stays). A cancel after the write was sent may still let it commit.
        """
        entry = self._entry(key, value, ttl, stale)
        tags = _check_tags(tags)
        await self._b().set(self.namespace, entry, tags)
        self._counts["sets"] += 1
        await self._wrote(1, len(entry.data))

    async def set_many(
        self,
        items: Mapping[str, Any],
        *,
        ttl: float | None = None,
        stale: float = 0.0,
        tags: Sequence[str] = (),
    ) -> None:
        """Store every item, all or none (one transaction); as :meth:`set` for each."""
        entries = [self._entry(key, value, ttl, stale) for key, value in items.items()]
        tags = _check_tags(tags)
        await self._b().set_many(self.namespace, entries, tags)
        self._counts["sets"] += len(entries)
        await self._wrote(len(entries), sum(len(e.data) for e in entries))

    async def add(self, key: str, value: Any, *, ttl: float | None = None) -> bool:
        """Store ``value`` only if ``key`` has no fresh value; whether it was stored.
        Atomic across tasks and processes."""
        entry = self._entry(key, value, ttl, 0.0)
        added = await self._b().add(self.namespace, entry, self._clock())
        if added:
            self._counts["sets"] += 1
            await self._wrote(1, len(entry.data))
        return added

    async def delete(self, key: str) -> bool:
        """Remove ``key``; whether it had a fresh value."""
        _check_key(key)
        row = await self._b().delete(self.namespace, key)
        self._counts["deletes"] += 1
        return row is not None and row.fresh(self._clock())

    async def incr(
        self, key: str, delta: int = 1, *, default: int = 0, ttl: float | None = None
    ) -> int:
        """Add ``delta`` to the integer under ``key`` and return the new value, atomically
        across tasks and processes. A missing or expired key starts at ``default`` (with
        ``ttl``); an existing one keeps its expiry. Raises :class:`~loopsafe.ValueTypeError`
        if the value is not an integer (nothing changes)."""
        if type(delta) is not int or type(default) is not int:
            raise TypeError("incr/decr take integers")
        start = self._entry(key, default + delta, ttl, 0.0)
        value = await self._b().incr(self.namespace, key, delta, start, self._clock())
        await self._wrote(1, len(start.data))
        return value

    async def decr(
        self, key: str, delta: int = 1, *, default: int = 0, ttl: float | None = None
    ) -> int:
        """:meth:`incr` by ``-delta``."""
        return await self.incr(key, -delta, default=default, ttl=ttl)

    async def expire(self, key: str, ttl: float | None) -> bool:
        """Make ``key`` expire ``ttl`` seconds from now (``None``: never; no stale period);
        whether it had a fresh value to change."""
        _check_key(key)
        _check_ttl(ttl, 0.0)
        expires_at = None if ttl is None else self._clock() + ttl
        return await self._b().expire(self.namespace, key, expires_at, self._clock())

    async def clear(self, namespace: str | None = None) -> int:
        """Remove every entry of ``namespace`` (default: this cache's); how many."""
        ns = self.namespace if namespace is None else namespace
        _check_name(ns, "namespace")
        removed = await self._b().clear(ns)
        self._counts["deletes"] += removed
        return removed

    async def invalidate_tags(self, *tags: str) -> int:
        """Remove every entry of this namespace carrying any of ``tags``; how many."""
        backend = self._b()
        removed = 0
        for tag in _check_tags(tags):
            removed += await backend.delete_tag(self.namespace, tag)
        self._counts["deletes"] += removed
        return removed

    # -- filling ---------------------------------------------------------------------------

    async def get_or_set(
        self,
        key: str,
        factory: Callable[[], Awaitable[Any]],
        *,
        ttl: float | None = None,
        stale: float = 0.0,
        tags: Sequence[str] = (),
    ) -> Any:
        """The fresh value under ``key``; when there is none, ``await factory()``, store its
        result (as :meth:`set` with ``ttl``, ``stale``, ``tags``) and return it.

        Single flight: concurrent callers of one key in this process share one factory
        call; across processes, a fill lock row (held at most ``lock_timeout``) lets one
        process fill while the others look for its value every ``lock_poll``. A stale value
        (past ``ttl``, within ``stale``) is returned at once while one caller refreshes it
        in the background.

        The factory's exception reaches every caller sharing its call; nothing is stored.
        A cancelled caller stops waiting, but the shared call goes on for the others and its
        value is stored. Closing the cache cancels fills in progress; their callers get
        :class:`~loopsafe.ClosedError`.
        """
        _check_key(key)
        _check_ttl(ttl, stale)
        tags = _check_tags(tags)
        row = await self._b().get(self.namespace, key)
        now = self._clock()
        if row is not None:
            if row.fresh(now):
                self._counts["hits"] += 1
                return self._serializer.loads(row.kind, row.data)
            if row.servable(now):
                self._counts["stale_hits"] += 1
                self._flight(key, factory, ttl, stale, tags, wait=False)
                return self._serializer.loads(row.kind, row.data)
        self._counts["misses"] += 1
        while True:
            flight = self._flight(key, factory, ttl, stale, tags, wait=True)
            try:
                value = await asyncio.shield(flight)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if flight.cancelled() and task is not None and not task.cancelling():
                    # The fill was cancelled by close(), not this caller.
                    raise ClosedError("the cache closed while this key was being filled") from None
                raise
            if value is not _GAVE_UP:
                return value
            # We joined a background refresh that left the fill to another process.

    def cached(
        self,
        *,
        ttl: float | None = None,
        stale: float = 0.0,
        tags: Sequence[str] = (),
        key: Callable[..., str] | None = None,
    ) -> Callable[[Callable[P, Awaitable[T]]], CachedFunction[P, T]]:
        """Decorate an async function so its results are cached (through
        :meth:`get_or_set`, so with single flight and ``stale``).

        The key is ``"{module}.{qualname}:"`` followed by the JSON of the call's arguments
        bound to the signature, defaults applied (``f(1)`` and ``f(x=1)`` share one key):
        ``json.dumps(bound.arguments, sort_keys=True, separators=(",", ":"))``. Arguments
        that aren't JSON raise :class:`~loopsafe.InvalidKeyError`: pass ``key=`` (a function
        of the same arguments returning the key). The decorated function has
        ``.key(*args, **kwargs)`` and ``await .invalidate(*args, **kwargs)``.
        """
        return make_cached(self, ttl=ttl, stale=stale, tags=tags, key=key)

    # -- maintenance -------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Remove every entry past its hard expiry (in batches) and enforce the bounds now;
        how many expired entries were removed. Runs by itself every ``sweep_interval``."""
        removed = 0
        while True:
            done = await asyncio.shield(self._request_pass())
            removed += done.expired
            if done.expired < SWEEP_BATCH:
                return removed

    def stats(self) -> CacheStats:
        """This object's counters and the file's totals (see :class:`CacheStats`)."""
        c = self._counts
        return CacheStats(
            hits=c["hits"],
            misses=c["misses"],
            stale_hits=c["stale_hits"],
            sets=c["sets"],
            deletes=c["deletes"],
            factory_calls=c["factory_calls"],
            expired=self._expired,
            evictions=self._evictions,
            entries=self._entries,
            bytes=self._bytes,
        )

    # -- internals -------------------------------------------------------------------------

    async def _opened(self) -> None:
        backend: CacheBackend
        if self.backend == "postgresql":
            on_postgres = PostgresCacheBackend(self.pool, self.eviction)
            await on_postgres.check_persistence(self.unlogged)
            # One connection is left for writes while reads fill the rest.
            backend, inflight = on_postgres, max(1, self.postgres.pool_size - 1)
        else:
            backend = SQLiteCacheBackend(self.database, self.eviction)
            inflight = self.database.options.readers
        self._entries, self._bytes = await backend.totals()
        self._backend = backend
        ns = self.namespace
        self._reads = ReadBatcher(
            lambda key: backend.get(ns, key),
            lambda keys: backend.get_many(ns, keys),
            inflight=inflight,
        )
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _closing(self) -> None:
        tasks = [t for t in (self._sweeper, self._pass_runner, *self._flights.values()) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._backend = self._reads = None

    def _b(self) -> CacheBackend:
        backend = self._backend
        if backend is None:
            self._raise_not_open()  # not open yet, or closed
            raise AssertionError("unreachable")
        return backend

    def _entry(self, key: str, value: Any, ttl: float | None, stale: float) -> Entry:
        _check_key(key)
        _check_ttl(ttl, stale)
        kind, data = self._serializer.dumps(value)
        if len(data) > self.max_value_size:
            raise ValueTooLargeError(
                f"the value for {key!r} is {len(data)} bytes serialized, past this cache's "
                f"max_value_size of {self.max_value_size}; nothing was written"
            )
        if ttl is None:
            return Entry(key, kind, data, None, None)
        expires_at = self._clock() + ttl
        return Entry(key, kind, data, expires_at, expires_at + stale)

    async def _wrote(self, count: int, nbytes: int) -> None:
        self._since_writes += count
        self._since_bytes += nbytes
        over = (
            self.max_entries is not None and self._entries + self._since_writes > self.max_entries
        ) or (self.max_bytes is not None and self._bytes + self._since_bytes > self.max_bytes)
        if over:
            # Past a bound: the caller returns only once the bounds hold again.
            await asyncio.shield(self._request_pass())
        elif self._since_writes >= MAINTAIN_EVERY:
            self._request_pass().add_done_callback(_log_failure)

    def _request_pass(self) -> asyncio.Future[Maintenance]:
        """A future for a maintenance pass that starts after this call (passes run one at
        a time; every request made while one runs shares the next)."""
        if self._next_pass is None:
            self._next_pass = asyncio.get_running_loop().create_future()
        if self._pass_runner is None:
            self._pass_runner = asyncio.get_running_loop().create_task(self._run_passes())
        return self._next_pass

    async def _run_passes(self) -> None:
        try:
            while self._next_pass is not None:
                fut, self._next_pass = self._next_pass, None
                self._since_writes = self._since_bytes = 0
                try:
                    done = await self._b().maintain(
                        self._clock(),
                        max_entries=self.max_entries,
                        max_bytes=self.max_bytes,
                        batch=SWEEP_BATCH,
                    )
                except BaseException as exc:
                    if not fut.done():
                        if isinstance(exc, asyncio.CancelledError):
                            fut.cancel()
                        else:
                            fut.set_exception(exc)
                    raise
                self._entries, self._bytes = done.entries, done.bytes
                self._expired += done.expired
                self._evictions += done.evicted
                if not fut.done():
                    fut.set_result(done)
        except Error:
            pass  # handed to the pass's waiters
        finally:
            self._pass_runner = None
            if self._next_pass is not None and not self._closed:
                self._pass_runner = asyncio.get_running_loop().create_task(self._run_passes())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                await self.sweep()
            except Error as exc:
                log.warning("cache sweep failed: %s", exc)

    def _flight(
        self,
        key: str,
        factory: Callable[[], Awaitable[Any]],
        ttl: float | None,
        stale: float,
        tags: Sequence[str],
        *,
        wait: bool,
    ) -> asyncio.Task[Any]:
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.get_running_loop().create_task(
                self._fill(key, factory, ttl, stale, tags, wait)
            )
            self._flights[key] = flight

            def done(task: asyncio.Task[Any]) -> None:
                if self._flights.get(key) is task:
                    del self._flights[key]
                if not wait:
                    _log_failure(task)

            flight.add_done_callback(done)
        return flight

    async def _fill(
        self,
        key: str,
        factory: Callable[[], Awaitable[Any]],
        ttl: float | None,
        stale: float,
        tags: Sequence[str],
        wait: bool,
    ) -> Any:
        try:
            return await self._fill_once(key, factory, ttl, stale, tags, wait)
        finally:
            # Leave the table as the flight ends, not when its done callback runs a loop
            # iteration later: a caller that joined a finished flight in between would get
            # its answer without yielding and, on _GAVE_UP, join it again, forever.
            if self._flights.get(key) is asyncio.current_task():
                del self._flights[key]

    async def _fill_once(
        self,
        key: str,
        factory: Callable[[], Awaitable[Any]],
        ttl: float | None,
        stale: float,
        tags: Sequence[str],
        wait: bool,
    ) -> Any:
        backend = self._b()
        owner = uuid.uuid4().hex
        while True:
            now = self._clock()
            if await backend.try_lock(self.namespace, key, owner, now + self._lock_timeout, now):
                try:
                    # Another process may have filled it between our read and our lock.
                    row = await backend.get(self.namespace, key)
                    if row is not None and row.fresh(self._clock()):
                        return self._serializer.loads(row.kind, row.data)
                    self._counts["factory_calls"] += 1
                    value = await factory()
                    await self.set(key, value, ttl=ttl, stale=stale, tags=tags)
                    # Stored: from now on callers read it rather than join this flight.
                    if self._flights.get(key) is asyncio.current_task():
                        del self._flights[key]
                    return value
                finally:
                    with contextlib.suppress(Error):
                        await backend.unlock(self.namespace, key, owner)
            if not wait:
                return _GAVE_UP  # another process is refreshing it
            # Another process is filling it: look for its value until its lock lapses.
            await asyncio.sleep(self._lock_poll)
            row = await backend.get(self.namespace, key)
            if row is not None and row.fresh(self._clock()):
                return self._serializer.loads(row.kind, row.data)


def _log_failure(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and (exc := fut.exception()) is not None:
        log.warning("cache background work failed: %r", exc)


def _check_key(key: object) -> None:
    if type(key) is not str or not key:
        raise InvalidKeyError(f"a cache key is a non-empty str, not {key!r}")


def _check_name(name: object, what: str) -> None:
    if type(name) is not str or not name:
        raise InvalidKeyError(f"a {what} is a non-empty str, not {name!r}")


def _check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        raise InvalidKeyError("tags is a sequence of str: write tags=(name,)")
    out = tuple(tags)
    for tag in out:
        _check_name(tag, "tag")
    return out


def _check_ttl(ttl: float | None, stale: float) -> None:
    if ttl is not None and not ttl > 0:
        raise ValueError(f"ttl must be positive seconds (or None for no expiry), not {ttl!r}")
    if not stale >= 0:
        raise ValueError(f"stale must be zero or positive seconds, not {stale!r}")
    if stale and ttl is None:
        raise ValueError("stale needs a ttl: a value without expiry is never stale")
