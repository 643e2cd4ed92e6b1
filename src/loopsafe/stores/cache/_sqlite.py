"""The Cache on SQLite: its tables, and every statement it runs (parameters only).

Totals (entries, bytes) live in a one-row table kept exact by triggers, so bounds are
checked without counting the table. A row's ``seq`` is its place in store order:
eviction removes the lowest (least recently stored, or first stored under FIFO, where an
overwrite keeps its place). Reads never write: expiry is decided by the reader from the
row's times, and expired rows are removed later, in batches, by :meth:`maintain`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Literal

from loopsafe.engine import Database
from loopsafe.errors import ValueTypeError
from loopsafe.stores._rows import as_tuple, check_rows
from loopsafe.stores.cache._backend import Entry, Maintenance, Row, surplus
from loopsafe.stores.cache._serializers import JSON

__all__ = ["MIGRATIONS", "SQLiteCacheBackend"]

MIGRATIONS = (
    """
CREATE TABLE loopsafe_cache (
    id              INTEGER PRIMARY KEY,
    namespace       TEXT NOT NULL,
    key             TEXT NOT NULL,
    kind            INTEGER NOT NULL,
    value           BLOB NOT NULL,
    size            INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    expires_at      REAL,
    hard_expires_at REAL,
    UNIQUE (namespace, key)
) STRICT;
CREATE INDEX loopsafe_cache_seq ON loopsafe_cache (seq);
CREATE INDEX loopsafe_cache_expiry ON loopsafe_cache (hard_expires_at)
    WHERE hard_expires_at IS NOT NULL;
CREATE TABLE loopsafe_cache_tags (
    tag   TEXT NOT NULL,
    entry INTEGER NOT NULL,
    PRIMARY KEY (tag, entry)
) STRICT, WITHOUT ROWID;
CREATE INDEX loopsafe_cache_tags_entry ON loopsafe_cache_tags (entry);
CREATE TABLE loopsafe_cache_totals (
    id      INTEGER PRIMARY KEY CHECK (id = 0),
    entries INTEGER NOT NULL,
    bytes   INTEGER NOT NULL
) STRICT;
INSERT INTO loopsafe_cache_totals (id, entries, bytes) VALUES (0, 0, 0);
CREATE TRIGGER loopsafe_cache_inserted AFTER INSERT ON loopsafe_cache BEGIN
    UPDATE loopsafe_cache_totals SET entries = entries + 1, bytes = bytes + new.size
    WHERE id = 0;
END;
CREATE TRIGGER loopsafe_cache_deleted AFTER DELETE ON loopsafe_cache BEGIN
    UPDATE loopsafe_cache_totals SET entries = entries - 1, bytes = bytes - old.size
    WHERE id = 0;
    DELETE FROM loopsafe_cache_tags WHERE entry = old.id;
END;
CREATE TRIGGER loopsafe_cache_replaced AFTER UPDATE OF value ON loopsafe_cache BEGIN
    UPDATE loopsafe_cache_totals SET bytes = bytes + new.size - old.size WHERE id = 0;
    DELETE FROM loopsafe_cache_tags WHERE entry = old.id;
END;
CREATE TABLE loopsafe_cache_locks (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    owner      TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (namespace, key)
) STRICT, WITHOUT ROWID;
""",
)

_GET = (
    "SELECT kind, value, expires_at, hard_expires_at FROM loopsafe_cache"
    " WHERE namespace = ? AND key = ?"
)
_GET_MANY = (
    "SELECT key, kind, value, expires_at, hard_expires_at FROM loopsafe_cache"
    " WHERE namespace = ? AND key IN (SELECT value FROM json_each(?))"
)
_INSERT = (
    "INSERT INTO loopsafe_cache"
    " (namespace, key, kind, value, size, seq, expires_at, hard_expires_at)"
    " VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM loopsafe_cache), ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE SET kind = excluded.kind,"
    " value = excluded.value, size = excluded.size, expires_at = excluded.expires_at,"
    " hard_expires_at = excluded.hard_expires_at"
)
_SET = {
    "least-recently-stored": _INSERT + ", seq = excluded.seq",
    "fifo": _INSERT,
}
# An expired row counts as absent: add() replaces it.
_ADD_WHERE = " WHERE loopsafe_cache.expires_at IS NOT NULL AND loopsafe_cache.expires_at <= ?"
_DELETE = (
    "DELETE FROM loopsafe_cache WHERE namespace = ? AND key = ?"
    " RETURNING kind, value, expires_at, hard_expires_at"
)
_EXPIRE = (
    "UPDATE loopsafe_cache SET expires_at = ?, hard_expires_at = ?"
    " WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)"
)
_CLEAR = "DELETE FROM loopsafe_cache WHERE namespace = ?"
_DELETE_TAG = (
    "DELETE FROM loopsafe_cache WHERE namespace = ?"
    " AND id IN (SELECT entry FROM loopsafe_cache_tags WHERE tag = ?)"
)
_TAG = "INSERT OR IGNORE INTO loopsafe_cache_tags (tag, entry) VALUES (?, ?)"
_ID = "SELECT id FROM loopsafe_cache WHERE namespace = ? AND key = ?"
_LOCK = (
    "INSERT INTO loopsafe_cache_locks (namespace, key, owner, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE SET owner = excluded.owner,"
    " expires_at = excluded.expires_at WHERE loopsafe_cache_locks.expires_at <= ?"
)
_UNLOCK = "DELETE FROM loopsafe_cache_locks WHERE namespace = ? AND key = ? AND owner = ?"
_TOTALS = "SELECT entries, bytes FROM loopsafe_cache_totals WHERE id = 0"
_EXPIRED = (
    "DELETE FROM loopsafe_cache WHERE id IN (SELECT id FROM loopsafe_cache"
    " WHERE hard_expires_at <= ? ORDER BY hard_expires_at LIMIT ?)"
)
_EXPIRED_LOCKS = "DELETE FROM loopsafe_cache_locks WHERE expires_at <= ?"
_EVICT = (
    "DELETE FROM loopsafe_cache WHERE id IN (SELECT id FROM loopsafe_cache ORDER BY seq LIMIT ?)"
)

Eviction = Literal["least-recently-stored", "fifo"]


def _row(found: object) -> Row | None:
    if found is None:
        return None
    kind, data, expires_at, hard = as_tuple(found)
    return Row(kind, data, expires_at, hard)


def _params(namespace: str, entry: Entry) -> tuple[object, ...]:
    return (
        namespace,
        entry.key,
        entry.kind,
        entry.data,
        len(entry.data),
        entry.expires_at,
        entry.hard_expires_at,
    )


# Every call passes wait=True: a store's statements are short and bounded by the
# Database's count bound; refusing them by queue_budget turned a burst of 64 concurrent
# sets into OverloadedError (and the store's own maintenance into failures). Services
# shed at their door (loopsafe.fastapi.LoadShedding) instead.
class SQLiteCacheBackend:
    """:class:`~loopsafe.stores.cache.CacheBackend` on a loopsafe Database."""

    def __init__(self, db: Database, eviction: Eviction = "least-recently-stored") -> None:
        check_rows(db)
        self._db = db
        self._set = _SET[eviction]

    async def get(self, namespace: str, key: str) -> Row | None:
        return _row(await self._db.fetchone(_GET, (namespace, key), wait=True))

    async def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Row]:
        # One statement text for any number of keys (they travel as one JSON array), so
        # it is prepared once and needs no parameter per key.
        rows = await self._db.fetchall(_GET_MANY, (namespace, json.dumps(list(keys))), wait=True)
        found: dict[str, Row] = {}
        for raw in rows:
            row = as_tuple(raw)
            found[row[0]] = Row._make(row[1:])
        return found

    async def set(self, namespace: str, entry: Entry, tags: Sequence[str]) -> None:
        if not tags:
            await self._db.execute(self._set, _params(namespace, entry), wait=True)
            return
        await self.set_many(namespace, [entry], tags)

    async def set_many(self, namespace: str, entries: Sequence[Entry], tags: Sequence[str]) -> None:
        if not entries:
            return
        if not tags:
            await self._db.executemany(
                self._set, [_params(namespace, e) for e in entries], wait=True
            )
            return
        statement = self._set

        def run(conn: sqlite3.Connection) -> None:
            for entry in entries:
                conn.execute(statement, _params(namespace, entry))
                (entry_id,) = as_tuple(conn.execute(_ID, (namespace, entry.key)).fetchone())
                conn.executemany(_TAG, [(tag, entry_id) for tag in tags])

        await self._db.write(run, wait=True)

    async def add(self, namespace: str, entry: Entry, now: float) -> bool:
        result = await self._db.execute(
            self._set + _ADD_WHERE, (*_params(namespace, entry), now), wait=True
        )
        return result.rowcount > 0

    async def delete(self, namespace: str, key: str) -> Row | None:
        return _row(await self._db.fetchone(_DELETE, (namespace, key), wait=True))

    async def incr(
        self, namespace: str, key: str, delta: int, entry_if_absent: Entry, now: float
    ) -> int:
        statement = self._set

        def run(conn: sqlite3.Connection) -> int:
            found = _row(conn.execute(_GET, (namespace, key)).fetchone())
            if found is None or not found.fresh(now):
                conn.execute(statement, _params(namespace, entry_if_absent))
                return int(json.loads(entry_if_absent.data))
            value = json.loads(found.data) if found.kind == JSON else None
            if type(value) is not int:
                raise ValueTypeError(f"incr/decr needs an integer value under {key!r}")
            value += delta
            conn.execute(
                "UPDATE loopsafe_cache SET value = ?, size = ? WHERE namespace = ? AND key = ?",
                (data := str(value).encode(), len(data), namespace, key),
            )
            return value

        return int(await self._db.write(run, wait=True))

    async def expire(self, namespace: str, key: str, expires_at: float | None, now: float) -> bool:
        result = await self._db.execute(
            _EXPIRE, (expires_at, expires_at, namespace, key, now), wait=True
        )
        return result.rowcount > 0

    async def clear(self, namespace: str) -> int:
        return (await self._db.execute(_CLEAR, (namespace,), wait=True)).rowcount

    async def delete_tag(self, namespace: str, tag: str) -> int:
        return (await self._db.execute(_DELETE_TAG, (namespace, tag), wait=True)).rowcount

    async def try_lock(
        self, namespace: str, key: str, owner: str, until: float, now: float
    ) -> bool:
        result = await self._db.execute(_LOCK, (namespace, key, owner, until, now), wait=True)
        return result.rowcount > 0

    async def unlock(self, namespace: str, key: str, owner: str) -> None:
        await self._db.execute(_UNLOCK, (namespace, key, owner), wait=True)

    async def maintain(
        self, now: float, *, max_entries: int | None, max_bytes: int | None, batch: int
    ) -> Maintenance:
        def run(conn: sqlite3.Connection) -> Maintenance:
            expired = conn.execute(_EXPIRED, (now, batch)).rowcount
            conn.execute(_EXPIRED_LOCKS, (now,))
            entries, size = as_tuple(conn.execute(_TOTALS).fetchone())
            evicted = 0
            while n := surplus(entries, size, max_entries, max_bytes):
                removed = conn.execute(_EVICT, (n,)).rowcount
                entries, size = as_tuple(conn.execute(_TOTALS).fetchone())
                if removed == 0:
                    break  # nothing left to evict
                evicted += removed
            return Maintenance(entries, size, expired, evicted)

        return await self._db.write(run, wait=True)

    async def totals(self) -> tuple[int, int]:
        entries, size = as_tuple(await self._db.fetchone(_TOTALS, wait=True))
        return int(entries), int(size)
