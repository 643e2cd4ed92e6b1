"""The Cache on PostgreSQL: its tables, and every statement it runs (parameters only).

The same model as the SQLite backend: a row's ``seq`` (from a sequence) is its place in
store order, reads never write, expired rows go in batches in :meth:`maintain`. Two
things differ because many hosts write at once:

- Totals are not one row every write updates (that row's lock would serialize every
  writer in the cluster): statement triggers *insert* a delta row per statement, which
  never conflicts, and maintenance folds the deltas into one row as it reads them.
- Maintenance and ``incr`` take advisory locks (maintenance one per schema, ``incr`` one
  per key), so two hosts never evict the same surplus twice or lose an increment.

``unlogged=True`` creates the tables UNLOGGED: writes skip the write-ahead log (faster,
less I/O), but the server empties them after a crash and they are not replicated, so a
failover to a standby starts with an empty cache. Right for a cache, whose contents can
be rebuilt; the choice is made when the tables are created.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from loopsafe.errors import StoreError, ValueTypeError
from loopsafe.stores._postgres import affected, server_errors
from loopsafe.stores.cache._backend import Entry, Maintenance, Row, surplus
from loopsafe.stores.cache._serializers import JSON

if TYPE_CHECKING:
    import asyncpg

__all__ = ["SCHEMA", "PostgresCacheBackend", "migrations"]

# Keys of pg_advisory_xact_lock(int, int): the first says "the cache", the second which.
_LOCK_CLASS = 0x6C730002

_V1 = """
CREATE SEQUENCE loopsafe_cache_seq;
CREATE {persistence} TABLE loopsafe_cache (
    id              bigserial PRIMARY KEY,
    namespace       text NOT NULL,
    key             text NOT NULL,
    kind            integer NOT NULL,
    value           bytea NOT NULL,
    size            integer NOT NULL,
    seq             bigint NOT NULL,
    expires_at      double precision,
    hard_expires_at double precision,
    UNIQUE (namespace, key)
);
CREATE INDEX loopsafe_cache_by_seq ON loopsafe_cache (seq);
CREATE INDEX loopsafe_cache_expiry ON loopsafe_cache (hard_expires_at)
    WHERE hard_expires_at IS NOT NULL;
CREATE {persistence} TABLE loopsafe_cache_tags (
    tag   text NOT NULL,
    entry bigint NOT NULL REFERENCES loopsafe_cache (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, entry)
);
CREATE INDEX loopsafe_cache_tags_entry ON loopsafe_cache_tags (entry);
CREATE {persistence} TABLE loopsafe_cache_totals (
    entries bigint NOT NULL,
    bytes   bigint NOT NULL
);
CREATE TABLE loopsafe_cache_locks (
    namespace  text NOT NULL,
    key        text NOT NULL,
    owner      text NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE FUNCTION loopsafe_cache_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO loopsafe_cache_totals (entries, bytes)
        SELECT count(*), sum(size) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;
CREATE FUNCTION loopsafe_cache_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO loopsafe_cache_totals (entries, bytes)
        SELECT -count(*), -sum(size) FROM old_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;
CREATE FUNCTION loopsafe_cache_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO loopsafe_cache_totals (entries, bytes)
        SELECT 0, (SELECT coalesce(sum(size), 0) FROM new_rows)
                - (SELECT coalesce(sum(size), 0) FROM old_rows);
    RETURN NULL;
END $$;
CREATE FUNCTION loopsafe_cache_retagged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM loopsafe_cache_tags WHERE entry = old.id;
    RETURN NULL;
END $$;
CREATE TRIGGER loopsafe_cache_inserted AFTER INSERT ON loopsafe_cache
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION loopsafe_cache_inserted();
CREATE TRIGGER loopsafe_cache_deleted AFTER DELETE ON loopsafe_cache
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION loopsafe_cache_deleted();
CREATE TRIGGER loopsafe_cache_updated AFTER UPDATE ON loopsafe_cache
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION loopsafe_cache_updated();
-- A replaced value loses its tags, as on SQLite (the set that replaces it adds its own).
CREATE TRIGGER loopsafe_cache_retagged AFTER UPDATE OF value ON loopsafe_cache
    FOR EACH ROW EXECUTE FUNCTION loopsafe_cache_retagged();
"""

SCHEMA = "cache"


def migrations(unlogged: bool) -> tuple[str, ...]:
    """The cache's PostgreSQL migrations, its tables LOGGED or UNLOGGED."""
    persistence = "UNLOGGED" if unlogged else ""
    return (_V1.replace("{persistence}", persistence),)


_COLUMNS = "kind, value, expires_at, hard_expires_at"
_GET = f"SELECT {_COLUMNS} FROM loopsafe_cache WHERE namespace = $1 AND key = $2"
_GET_MANY = (
    f"SELECT key, {_COLUMNS} FROM loopsafe_cache WHERE namespace = $1 AND key = ANY($2::text[])"
)
_UPSERT = (
    " ON CONFLICT (namespace, key) DO UPDATE SET kind = excluded.kind,"
    " value = excluded.value, size = excluded.size, expires_at = excluded.expires_at,"
    " hard_expires_at = excluded.hard_expires_at"
)
_INSERT_ONE = (
    "INSERT INTO loopsafe_cache"
    " (namespace, key, kind, value, size, seq, expires_at, hard_expires_at)"
    " VALUES ($1, $2, $3, $4::bytea, length($4::bytea), nextval('loopsafe_cache_seq'), $5, $6)"
    + _UPSERT
)
# Sorted by key: two set_many over the same keys lock their rows in the same order, so
# they queue behind each other instead of deadlocking.
_INSERT_MANY = (
    "INSERT INTO loopsafe_cache"
    " (namespace, key, kind, value, size, seq, expires_at, hard_expires_at)"
    " SELECT $1, k, kd, v, length(v), nextval('loopsafe_cache_seq'), e, h"
    " FROM unnest($2::text[], $3::int[], $4::bytea[], $5::float8[], $6::float8[])"
    " AS u(k, kd, v, e, h) ORDER BY k" + _UPSERT
)
_KEEP_PLACE = {"least-recently-stored": ", seq = excluded.seq", "fifo": ""}
# An expired row counts as absent: add() replaces it.
_ADD_WHERE = " WHERE loopsafe_cache.expires_at IS NOT NULL AND loopsafe_cache.expires_at <= $7"
_IDS = "SELECT id FROM loopsafe_cache WHERE namespace = $1 AND key = ANY($2::text[])"
_TAG = (
    "INSERT INTO loopsafe_cache_tags (tag, entry)"
    " SELECT t, e FROM unnest($1::text[]) AS t, unnest($2::bigint[]) AS e ON CONFLICT DO NOTHING"
)
_DELETE = f"DELETE FROM loopsafe_cache WHERE namespace = $1 AND key = $2 RETURNING {_COLUMNS}"
_FOR_UPDATE = _GET + " FOR UPDATE"
_REPLACE_VALUE = (
    "UPDATE loopsafe_cache SET value = $3::bytea, size = length($3::bytea)"
    " WHERE namespace = $1 AND key = $2"
)
_EXPIRE = (
    "UPDATE loopsafe_cache SET expires_at = $1, hard_expires_at = $1"
    " WHERE namespace = $2 AND key = $3 AND (expires_at IS NULL OR expires_at > $4)"
)
_CLEAR = "DELETE FROM loopsafe_cache WHERE namespace = $1"
_DELETE_TAG = (
    "DELETE FROM loopsafe_cache WHERE namespace = $1"
    " AND id IN (SELECT entry FROM loopsafe_cache_tags WHERE tag = $2)"
)
_LOCK = (
    "INSERT INTO loopsafe_cache_locks (namespace, key, owner, expires_at)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT (namespace, key) DO UPDATE SET"
    " owner = excluded.owner, expires_at = excluded.expires_at"
    " WHERE loopsafe_cache_locks.expires_at <= $5"
)
_UNLOCK = "DELETE FROM loopsafe_cache_locks WHERE namespace = $1 AND key = $2 AND owner = $3"
_TOTALS = "SELECT coalesce(sum(entries), 0), coalesce(sum(bytes), 0) FROM loopsafe_cache_totals"
# Folds the deltas into one row: deltas committed meanwhile by others are not in this
# statement's snapshot, so they stay, to be folded next time; nothing is counted twice.
_FOLD = (
    "WITH d AS (DELETE FROM loopsafe_cache_totals RETURNING entries, bytes)"
    " INSERT INTO loopsafe_cache_totals (entries, bytes)"
    " SELECT coalesce(sum(entries), 0), coalesce(sum(bytes), 0) FROM d"
)
_EXPIRED = (
    "DELETE FROM loopsafe_cache WHERE id IN (SELECT id FROM loopsafe_cache"
    " WHERE hard_expires_at <= $1 ORDER BY hard_expires_at LIMIT $2)"
)
_EXPIRED_LOCKS = "DELETE FROM loopsafe_cache_locks WHERE expires_at <= $1"
_EVICT = (
    "DELETE FROM loopsafe_cache WHERE id IN (SELECT id FROM loopsafe_cache ORDER BY seq LIMIT $1)"
)
_PERSISTENCE = "SELECT relpersistence::text FROM pg_class WHERE oid = 'loopsafe_cache'::regclass"

Eviction = Literal["least-recently-stored", "fifo"]


def _row(found: asyncpg.Record | None) -> Row | None:
    if found is None:
        return None
    return Row(found[0], found[1], found[2], found[3])


class PostgresCacheBackend:
    """:class:`~loopsafe.stores.cache.CacheBackend` on an asyncpg pool whose connections
    see the cache's schema."""

    def __init__(
        self, pool: asyncpg.Pool[asyncpg.Record], eviction: Eviction = "least-recently-stored"
    ) -> None:
        self._pool = pool
        self._set_one = _INSERT_ONE + _KEEP_PLACE[eviction]
        self._set_many = _INSERT_MANY + _KEEP_PLACE[eviction]

    @server_errors
    async def check_persistence(self, unlogged: bool) -> None:
        """Raise :class:`~loopsafe.StoreError` if the tables were created the other way."""
        found = await self._pool.fetchval(_PERSISTENCE)
        if (found == "u") != unlogged:
            have, want = ("UNLOGGED", "LOGGED") if found == "u" else ("LOGGED", "UNLOGGED")
            raise StoreError(
                f"the cache tables here are {have} but this Cache asks for {want} ones: "
                f"open it with unlogged={found == 'u'}, or ALTER TABLE loopsafe_cache, "
                f"loopsafe_cache_tags and loopsafe_cache_totals SET {want}"
            )

    @server_errors
    async def get(self, namespace: str, key: str) -> Row | None:
        return _row(await self._pool.fetchrow(_GET, namespace, key))

    @server_errors
    async def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Row]:
        rows = await self._pool.fetch(_GET_MANY, namespace, list(keys))
        return {r[0]: Row(r[1], r[2], r[3], r[4]) for r in rows}

    @server_errors
    async def set(self, namespace: str, entry: Entry, tags: Sequence[str]) -> None:
        if not tags:
            await self._pool.execute(self._set_one, namespace, *_values(entry))
            return
        await self.set_many(namespace, [entry], tags)

    @server_errors
    async def set_many(self, namespace: str, entries: Sequence[Entry], tags: Sequence[str]) -> None:
        if not entries:
            return
        columns = _columns(entries)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(self._set_many, namespace, *columns)
            if tags:
                ids = [r[0] for r in await conn.fetch(_IDS, namespace, columns[0])]
                await conn.execute(_TAG, list(tags), ids)

    @server_errors
    async def add(self, namespace: str, entry: Entry, now: float) -> bool:
        status = await self._pool.execute(
            self._set_one + _ADD_WHERE, namespace, *_values(entry), now
        )
        return affected(status) > 0

    @server_errors
    async def delete(self, namespace: str, key: str) -> Row | None:
        return _row(await self._pool.fetchrow(_DELETE, namespace, key))

    @server_errors
    async def incr(
        self, namespace: str, key: str, delta: int, entry_if_absent: Entry, now: float
    ) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            # A row lock can't guard a key that has no row yet: a per-key advisory lock
            # makes two first increments take turns instead of both storing the default.
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2 || chr(1) || $3))",
                _LOCK_CLASS,
                namespace,
                key,
            )
            found = _row(await conn.fetchrow(_FOR_UPDATE, namespace, key))
            if found is None or not found.fresh(now):
                await conn.execute(self._set_one, namespace, *_values(entry_if_absent))
                return int(json.loads(entry_if_absent.data))
            value = json.loads(found.data) if found.kind == JSON else None
            if type(value) is not int:
                raise ValueTypeError(f"incr/decr needs an integer value under {key!r}")
            value += delta
            await conn.execute(_REPLACE_VALUE, namespace, key, str(value).encode())
            return value

    @server_errors
    async def expire(self, namespace: str, key: str, expires_at: float | None, now: float) -> bool:
        return affected(await self._pool.execute(_EXPIRE, expires_at, namespace, key, now)) > 0

    @server_errors
    async def clear(self, namespace: str) -> int:
        return affected(await self._pool.execute(_CLEAR, namespace))

    @server_errors
    async def delete_tag(self, namespace: str, tag: str) -> int:
        return affected(await self._pool.execute(_DELETE_TAG, namespace, tag))

    @server_errors
    async def try_lock(
        self, namespace: str, key: str, owner: str, until: float, now: float
    ) -> bool:
        return affected(await self._pool.execute(_LOCK, namespace, key, owner, until, now)) > 0

    @server_errors
    async def unlock(self, namespace: str, key: str, owner: str) -> None:
        await self._pool.execute(_UNLOCK, namespace, key, owner)

    @server_errors
    async def maintain(
        self, now: float, *, max_entries: int | None, max_bytes: int | None, batch: int
    ) -> Maintenance:
        async with self._pool.acquire() as conn, conn.transaction():
            # One pass at a time across hosts: two would each evict the same surplus.
            await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", _LOCK_CLASS)
            expired = affected(await conn.execute(_EXPIRED, now, batch))
            await conn.execute(_EXPIRED_LOCKS, now)
            await conn.execute(_FOLD)
            entries, size = await _totals(conn)
            evicted = 0
            while n := surplus(entries, size, max_entries, max_bytes):
                removed = affected(await conn.execute(_EVICT, n))
                entries, size = await _totals(conn)
                if removed == 0:
                    break  # nothing left to evict
                evicted += removed
            return Maintenance(entries, size, expired, evicted)

    @server_errors
    async def totals(self) -> tuple[int, int]:
        async with self._pool.acquire() as conn:
            return await _totals(conn)


async def _totals(conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record]) -> tuple[int, int]:
    row = await conn.fetchrow(_TOTALS)
    assert row is not None
    return int(row[0]), int(row[1])


def _values(entry: Entry) -> tuple[object, ...]:
    return (entry.key, entry.kind, entry.data, entry.expires_at, entry.hard_expires_at)


def _columns(entries: Sequence[Entry]) -> tuple[list[object], ...]:
    return (
        [e.key for e in entries],
        [e.kind for e in entries],
        [e.data for e in entries],
        [e.expires_at for e in entries],
        [e.hard_expires_at for e in entries],
    )
