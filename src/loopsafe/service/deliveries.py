"""Webhook deliveries: stored once per (source, id), in the queue's file or schema.

They live beside the jobs so that storing a delivery and enqueueing its job is one
transaction: a delivery answered 2xx always has its job, and a refused one has neither. On
SQLite they share the queue's Database; on PostgreSQL they open the queue's URL (the same
schema) and write on the caller's connection where the caller passes one.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from loopsafe.engine import Database
from loopsafe.stores import Store
from loopsafe.stores._postgres import affected, server_errors

__all__ = ["Deliveries", "Delivery", "DeliveryState", "Page"]

DeliveryState = Literal["received", "processed", "failed", "dead"]

MIGRATIONS = (
    """
    CREATE TABLE service_deliveries (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        source      TEXT NOT NULL,
        id          TEXT NOT NULL,
        received_at REAL NOT NULL,
        body        BLOB NOT NULL,
        state       TEXT NOT NULL DEFAULT 'received'
                    CHECK (state IN ('received', 'processed', 'failed', 'dead')),
        job_id      INTEGER,
        UNIQUE (source, id)
    ) STRICT;
    CREATE INDEX service_deliveries_by_source ON service_deliveries (source, seq);
    """,
)

POSTGRES_MIGRATIONS = (
    """
    CREATE TABLE service_deliveries (
        seq         bigserial PRIMARY KEY,
        source      text NOT NULL,
        id          text NOT NULL,
        received_at double precision NOT NULL,
        body        bytea NOT NULL,
        state       text NOT NULL DEFAULT 'received'
                    CHECK (state IN ('received', 'processed', 'failed', 'dead')),
        job_id      bigint,
        UNIQUE (source, id)
    );
    CREATE INDEX service_deliveries_by_source ON service_deliveries (source, seq);
    """,
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A stored webhook delivery; ``body`` is the verified raw body, ``payload`` it parsed."""

    source: str
    id: str
    received_at: datetime
    state: DeliveryState
    job_id: int | None
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "job_id": self.job_id,
            "received_at": rfc3339(self.received_at),
        }


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Delivery]
    next: str | None


class Deliveries(Store):
    """The deliveries table: on the queue's Database (given to it, never closed by it), or
    on the queue's PostgreSQL URL (its own small pool, closed with it).

    Its calls raise the stores' errors: on SQLite the engine's, on PostgreSQL
    :class:`~loopsafe.ServerError` when the server fails the call or is away (the
    driver's exception as its cause). A bad URL (a port out of range, ...) is an
    :class:`~loopsafe.ArgumentError` at construction."""

    schema = "service_deliveries"
    migrations = MIGRATIONS
    postgres_migrations = POSTGRES_MIGRATIONS

    def __init__(self, target: Database | str) -> None:
        super().__init__(target)

    async def insert(
        self, source: str, msg_id: str, body: bytes, now: float, connection: Any = None
    ) -> bool:
        """Store a new delivery; False (nothing written) if ``(source, id)`` was seen. On
        PostgreSQL ``connection`` (an asyncpg connection) is where it is written, so it
        joins that connection's transaction."""
        if self.backend == "postgresql":
            status = await server_errors((connection or self.pool).execute)(
                "INSERT INTO service_deliveries (source, id, received_at, body)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (source, id) DO NOTHING",
                source,
                msg_id,
                now,
                body,
            )
            return affected(status) == 1
        result = await self.database.execute(
            "INSERT INTO service_deliveries (source, id, received_at, body) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (source, id) DO NOTHING",
            (source, msg_id, now, body),
        )
        return result.rowcount == 1

    async def set_job(self, source: str, msg_id: str, job_id: int, connection: Any = None) -> None:
        """Record the delivery's job (on ``connection`` as for :meth:`insert`)."""
        await self._update("job_id", job_id, source, msg_id, connection)

    async def set_state(self, source: str, msg_id: str, state: DeliveryState) -> None:
        await self._update("state", state, source, msg_id, None)

    async def _update(
        self, column: str, value: object, source: str, msg_id: str, connection: Any
    ) -> None:
        # ``column`` is one of two constants above, never input.
        if self.backend == "postgresql":
            await server_errors((connection or self.pool).execute)(
                f"UPDATE service_deliveries SET {column} = $1 WHERE source = $2 AND id = $3",
                value,
                source,
                msg_id,
            )
            return
        await self.database.execute(
            f"UPDATE service_deliveries SET {column} = ? WHERE source = ? AND id = ?",
            (value, source, msg_id),
        )

    async def get(self, source: str, msg_id: str) -> Delivery | None:
        if self.backend == "postgresql":
            row = await server_errors(self.pool.fetchrow)(
                f"SELECT {_COLUMNS} FROM service_deliveries WHERE source = $1 AND id = $2",
                source,
                msg_id,
            )
        else:
            row = await self.database.fetchone(
                f"SELECT {_COLUMNS} FROM service_deliveries WHERE source = ? AND id = ?",
                (source, msg_id),
            )
        return None if row is None else _delivery(row)

    async def page(self, source: str, limit: int, cursor: str | None) -> Page:
        """Newest first, ``limit`` at a time; ``cursor`` is the previous page's ``next``.

        Raises :class:`ValueError` for a cursor this code did not make."""
        before = decode_cursor(cursor) if cursor else None
        rows: Any
        if self.backend == "postgresql":
            rows = await server_errors(self.pool.fetch)(
                f"SELECT {_COLUMNS}, seq FROM service_deliveries"
                " WHERE source = $1 AND ($2::bigint IS NULL OR seq < $2)"
                " ORDER BY seq DESC LIMIT $3",
                source,
                before,
                limit + 1,
            )
        else:
            rows = await self.database.fetchall(
                f"SELECT {_COLUMNS}, seq FROM service_deliveries"
                " WHERE source = ? AND (? IS NULL OR seq < ?) ORDER BY seq DESC LIMIT ?",
                (source, before, before, limit + 1),
            )
        more = len(rows) > limit
        rows = rows[:limit]
        items = [_delivery(r) for r in rows]
        return Page(items, encode_cursor(rows[-1][-1]) if more and rows else None)


_COLUMNS = "source, id, received_at, state, job_id, body"


def _delivery(row: Any) -> Delivery:
    return Delivery(
        source=row[0],
        id=row[1],
        received_at=datetime.fromtimestamp(row[2], UTC),
        state=row[3],
        job_id=row[4],
        body=bytes(row[5]),
    )


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"s{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("s"):
            raise ValueError
        return int(text[1:])
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor this service made") from None
