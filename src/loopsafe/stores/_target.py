"""What a store is opened on: a file path, a URL, or a Database the caller already has."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from loopsafe.engine import Database

__all__ = ["PostgresTarget", "Target", "parse_target"]

StoreTarget = str | os.PathLike[str] | Database

# The query options loopsafe reads itself; the rest of the URL goes to asyncpg untouched.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """A PostgreSQL database: ``dsn`` (the URL without loopsafe's own options, handed to
    asyncpg), ``schema`` (where the store's tables live, created on first open) and
    ``pool_size`` (connections of the store's pool)."""

    dsn: str
    schema: str = "public"
    pool_size: int = 10

    def describe(self) -> str:
        parts = urlsplit(self.dsn)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""  # never the password
        return f"postgresql://{user}{host}{port}{parts.path} (schema {self.schema})"


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved target: exactly one of ``path`` (a SQLite file the store opens and owns),
    ``database`` (a Database the caller opened, shared and never closed by the store) or
    ``postgres`` (a PostgreSQL database the store opens a pool on)."""

    scheme: str
    path: str | None = None
    database: Database | None = None
    postgres: PostgresTarget | None = field(default=None)

    def describe(self) -> str:
        if self.database is not None:
            return f"a shared Database ({self.database.options.path})"
        if self.postgres is not None:
            return self.postgres.describe()
        return f"{self.scheme}:{self.path}"


def parse_target(target: StoreTarget) -> Target:
    """Resolve what a store was constructed with, synchronously and without I/O.

    Accepts a path (``"var/jobs.db"``, a ``pathlib.Path``), a SQLite URL
    (``"sqlite:///var/jobs.db"`` relative, ``"sqlite:////abs/jobs.db"`` absolute,
    ``"sqlite://:memory:"``), a PostgreSQL URL (``postgresql://`` or ``postgres://``, as
    asyncpg takes it, plus two options of loopsafe's own in the query: ``schema=`` the
    schema of the store's tables, default ``public``; ``pool_size=`` the connections the
    store opens, default 10) or an open :class:`~loopsafe.Database`. Raises
    :class:`ValueError` for an empty path, a bad option or a URL whose scheme no backend
    serves.
    """
    if isinstance(target, Database):
        return Target("sqlite", database=target)
    if not isinstance(target, str | os.PathLike):
        raise TypeError(
            f"a store target is a path, a URL or a loopsafe.Database, not {type(target).__name__}"
        )
    text = os.fspath(target)
    if not text:
        raise ValueError("a store target must not be empty")
    if "://" not in text:
        return Target("sqlite", path=text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///relative.db -> "relative.db"; sqlite:////abs.db -> "/abs.db"
        path = unquote(parts.netloc + parts.path)
        if path.startswith("/") and not parts.netloc:
            path = path[1:]
        if not path:
            raise ValueError(f"no file in {text!r}: write sqlite:///path/to/file.db")
        return Target("sqlite", path=path)
    if scheme in _POSTGRES_SCHEMES:
        return Target("postgresql", postgres=_postgres(parts.geturl(), text))
    raise ValueError(
        f"no store backend for {scheme!r} URLs ({_redact(text)!r}); use a path, "
        f"sqlite:///path or postgresql://host/database"
    )


def _postgres(url: str, text: str) -> PostgresTarget:
    parts = urlsplit(url)
    schema, pool_size, rest = "public", 10, []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "schema":
            if not _SCHEMA_NAME.fullmatch(value):
                raise ValueError(
                    f"schema={value!r} in {_redact(text)!r}: a schema name is lower-case "
                    f"letters, digits and _ (not first), at most 63"
                )
            schema = value
        elif name == "pool_size":
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"pool_size={value!r} in {_redact(text)!r}: a positive integer")
            pool_size = int(value)
        else:
            rest.append((name, value))
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), parts.fragment))
    return PostgresTarget(dsn, schema, pool_size)


def _redact(text: str) -> str:
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
