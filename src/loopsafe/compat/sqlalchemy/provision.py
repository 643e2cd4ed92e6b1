"""Test provisioning for SQLAlchemy's dialect suite, imported only by its plugin (through
``Dialect.load_provisioning``).

SQLAlchemy's SQLite hooks apply, except one: they ATTACH the suite's ``test_schema``
database with a statement on each new DB-API connection, which here would reach only the
connection that ran it (the writer), not the readers. The ATTACH goes in the Database's
setup hook instead, so every connection of the Database has the schema. Nor are the
files removed when an engine is disposed (SQLAlchemy's hook does): the Database they
belong to is shared, and may still be open for another engine of the suite. ``make
test-orm`` removes them.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from typing import Any

import sqlalchemy.dialects.sqlite.provision  # noqa: F401  (registers the SQLite hooks)
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.testing.provision import post_configure_engine


@functools.cache
def _attach(path: str) -> Callable[[sqlite3.Connection], None]:
    # One function per path, so every handle passes the same setup and shares a Database.
    def attach(connection: sqlite3.Connection) -> None:
        connection.execute("ATTACH DATABASE ? AS test_schema", (path,))

    return attach


@post_configure_engine.for_db("sqlite")  # type: ignore[untyped-decorator]
def _post_configure_engine(url: Any, engine: Any, follower_ident: str | None) -> None:
    prefix = f"{follower_ident}_" if follower_ident else ""
    attach_path = os.path.abspath(f"{prefix}{engine.driver}_test_schema.db")

    # On every Engine, not just this one: the suite makes more engines on the same URL
    # (testing_engine), and each must open the same Database, with the schema attached.
    @event.listens_for(Engine, "do_connect")
    def add_schema(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        if dialect.driver != "loopsafe":
            return
        cparams["options"] = {**cparams.get("options", {}), "setup": _attach(attach_path)}
