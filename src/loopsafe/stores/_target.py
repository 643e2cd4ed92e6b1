"""What a store is opened on: a file path, a URL, or a Database the caller already has."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from loopsafe.engine import Database
from loopsafe.errors import ArgumentError

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
        hosts = parts.netloc.rpartition("@")[2] or "localhost"  # h:5432, or h1:5432,h2
        user = f"{parts.username}@" if parts.username else ""  # never the password
        return f"postgresql://{user}{hosts}{parts.path} (schema {self.schema})"


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
    serves, and :class:`~loopsafe.ArgumentError` (a ValueError) for a PostgreSQL port that
    is not a number from 1 to 65535.
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
    _check_ports(parts.netloc, text)
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


def _check_ports(netloc: str, text: str) -> None:
    # The driver would take a port of 0 or 70000 and fail later, as a connection error
    # that hides the typo; several hosts (h1:5432,h2:5433) each name their own port.
    hosts = netloc.rpartition("@")[2]
    for host in hosts.split(","):
        if host.startswith("["):  # [::1]:5432
            port = host.partition("]")[2].removeprefix(":") if "]:" in host else ""
        else:
            port = host.rpartition(":")[2] if ":" in host else ""
        if port == "":
            continue  # no port: the default, 5432
        if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ArgumentError(
                f"port {port!r} in {_redact(text)!r}: a PostgreSQL port is a whole number "
                f"from 1 to 65535 (or leave it out for 5432)"
            )


def _redact(text: str) -> str:
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
