"""What every store shares: targets, open/close, schema versions."""

from __future__ import annotations

from pathlib import Path

import pytest

import loopsafe
from loopsafe.errors import ClosedError, SchemaVersionError, StoreError
from loopsafe.stores import Store, parse_target
from loopsafe.stores._schema import schema_version


class Notes(Store):
    schema = "notes"
    migrations: tuple[str, ...] = (
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        "ALTER TABLE notes ADD COLUMN tag TEXT;\nCREATE INDEX notes_tag ON notes (tag);",
    )


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("var/jobs.db", "var/jobs.db"),
        ("sqlite:///var/jobs.db", "var/jobs.db"),
        ("sqlite:////srv/jobs.db", "/srv/jobs.db"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///a%20b.db", "a b.db"),
    ],
)
def test_targets_resolve_to_a_path(text: str, path: str) -> None:
    target = parse_target(text)
    assert (target.scheme, target.path, target.database) == ("sqlite", path, None)


@pytest.mark.parametrize("text", ["", "sqlite://", "redis://localhost/0", "mysql://x/y"])
def test_bad_targets_are_refused_at_construction(text: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite|empty"):
        Notes(text)


def test_a_target_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"path, a URL or a loopsafe\.Database"):
        Notes(42)  # type: ignore[arg-type]


async def test_a_store_opens_its_own_file_and_closes_it(tmp_path: Path) -> None:
    store = Notes(tmp_path / "n.db")
    with pytest.raises(StoreError, match="not open"):
        _ = store.database
    async with store as s:
        assert s is store
        db = s.database
        await db.execute("INSERT INTO notes (body, tag) VALUES ('x', 't')")
        assert await schema_version(db, "notes") == 2
    assert db.closed
    with pytest.raises(ClosedError):
        _ = store.database
    with pytest.raises(ClosedError):
        await store.open()


async def test_a_shared_database_is_migrated_but_not_closed(tmp_path: Path) -> None:
    async with loopsafe.open(tmp_path / "shared.db") as db:
        async with Notes(db) as store:
            assert store.database is db
        assert not db.closed
        assert await db.fetchval("SELECT count(*) FROM notes") == 0


async def test_open_is_idempotent_and_migrations_run_once(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    async with Notes(path) as store:
        await store.open()
        await store.database.execute("INSERT INTO notes (body) VALUES ('kept')")
    async with Notes(path) as again:
        assert await again.database.fetchval("SELECT body FROM notes") == "kept"


async def test_a_newer_schema_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    async with Notes(path) as store:
        await store.database.execute("UPDATE loopsafe_schema SET version = 9")
    with pytest.raises(SchemaVersionError, match="version 9"):
        await Notes(path).open()
    async with loopsafe.open(path) as db:
        assert await db.fetchval("SELECT version FROM loopsafe_schema") == 9


async def test_a_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    class Broken(Notes):
        migrations = (*Notes.migrations, "CREATE TABLE notes (oops);")

    path = tmp_path / "n.db"
    async with Notes(path):
        pass
    with pytest.raises(loopsafe.SQLError):
        await Broken(path).open()
    async with Notes(path) as store:
        assert await schema_version(store.database, "notes") == 2


async def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(loopsafe.CorruptError):
        await Notes(path).open()


async def test_open_options_are_refused_with_a_shared_database(tmp_path: Path) -> None:
    async with loopsafe.open(tmp_path / "s.db") as db:
        with pytest.raises(ValueError, match="own file"):
            Notes(db, open_options={"readers": 2})
