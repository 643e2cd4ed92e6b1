"""What a store is opened on: a file path, a URL, or a Database the caller already has."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from loopsafe.engine import Database

__all__ = ["Target", "parse_target"]

StoreTarget = str | os.PathLike[str] | Database


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved target: exactly one of ``path`` (a SQLite file the store opens and owns)
    or ``database`` (a Database the caller opened, shared and never closed by the store)."""

    scheme: str
    path: str | None = None
    database: Database | None = None

    def describe(self) -> str:
        if self.database is not None:
            return f"a shared Database ({self.database.options.path})"
        return f"{self.scheme}:{self.path}"


def parse_target(target: StoreTarget) -> Target:
    """Resolve what a store was constructed with, synchronously and without I/O.

    Accepts a path (``"var/jobs.db"``, a ``pathlib.Path``), a URL (``"sqlite:///var/jobs.db"``
    relative, ``"sqlite:////abs/jobs.db"`` absolute, ``"sqlite://:memory:"``) or an open
    :class:`~loopsafe.Database`. Raises :class:`ValueError` for an empty path or a URL whose
    scheme no backend serves.
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
    raise ValueError(
        f"no store backend for {scheme!r} URLs ({text!r}); use a path or sqlite:///path"
    )
