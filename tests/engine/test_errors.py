"""Bad input gets a clear, typed error, and the Database keeps serving."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loopsafe


async def test_bad_sql_is_an_sql_error_carrying_the_statement(db: loopsafe.Database) -> None:
    with pytest.raises(loopsafe.SQLError) as info:
        await db.fetchall("SELEC nonsense")
    assert info.value.statement == "SELEC nonsense"
    assert "syntax error" in str(info.value)
    assert await db.fetchval("SELECT 1") == 1


async def test_errors_never_show_parameter_values(db: loopsafe.Database) -> None:
    await db.execute("INSERT INTO items (name) VALUES (?)", ("s3cret-token",))
    with pytest.raises(loopsafe.IntegrityError) as info:
        await db.execute("INSERT INTO items (name) VALUES (?)", ("s3cret-token",))
    assert "s3cret-token" not in str(info.value)
    assert info.value.statement == "INSERT INTO items (name) VALUES (?)"


async def test_wrong_parameter_count_is_a_parameter_error(db: loopsafe.Database) -> None:
    with pytest.raises(loopsafe.ParameterError):
        await db.fetchone("SELECT ?, ?", (1,))
    with pytest.raises(loopsafe.ParameterError):
        await db.execute("INSERT INTO items (name) VALUES (?)", ("a", "b"))


async def test_unsupported_parameter_type_is_a_parameter_error(db: loopsafe.Database) -> None:
    with pytest.raises(loopsafe.ParameterError):
        await db.fetchone("SELECT ?", (object(),))
    with pytest.raises(loopsafe.ParameterError):
        await db.execute("INSERT INTO items (name, n) VALUES ('x', ?)", (2**70,))
    assert await db.fetchval("SELECT count(*) FROM items") == 0


async def test_missing_directory_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(loopsafe.CannotOpenError, match="does not exist"):
        await loopsafe.open(tmp_path / "no" / "such" / "dir" / "x.db")


async def test_not_a_database_is_corrupt(tmp_path: Path) -> None:
    target = tmp_path / "text.db"
    target.write_text("this is a text file, not a database" * 100)
    with pytest.raises(loopsafe.CorruptError):
        await loopsafe.open(target)


async def test_damaged_database_is_corrupt(tmp_path: Path) -> None:
    target = tmp_path / "damaged.db"
    async with loopsafe.open(target) as db:
        await db.execute("CREATE TABLE t (x)")
    data = bytearray(target.read_bytes())
    data[0:16] = b"garbage garbage!"  # destroy the header
    target.write_bytes(bytes(data))
    with pytest.raises(loopsafe.CorruptError):
        await loopsafe.open(target)


@contextlib.contextmanager
def _read_only(target: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        target.chmod(0o444)
        target.parent.chmod(0o555)
        try:
            yield
        finally:
            target.parent.chmod(0o755)
            target.chmod(0o644)
        return
    # root ignores permission bits; the immutable attribute binds root too.
    subprocess.run(["chattr", "+i", str(target)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)


async def test_read_only_file_is_a_clear_error_and_readonly_mode_reads_it(tmp_path: Path) -> None:
    target = tmp_path / "ro.db"
    async with loopsafe.open(target) as db:
        await db.execute("CREATE TABLE t (x)")
        await db.execute("INSERT INTO t VALUES (1)")
    raw = sqlite3.connect(target)
    raw.execute("PRAGMA journal_mode = DELETE")  # a read-only file can't grow a WAL
    raw.close()
    with _read_only(target):
        with pytest.raises(loopsafe.ReadOnlyError):
            await loopsafe.open(target)
        async with loopsafe.open(target, readonly=True) as db:
            assert await db.fetchval("SELECT x FROM t") == 1


async def test_invalid_options_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="readers"):
        loopsafe.open(tmp_path / "x.db", readers=1000)
    with pytest.raises(ValueError, match="durability"):
        loopsafe.open(tmp_path / "x.db", durability="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lane"):
        async with loopsafe.open(tmp_path / "x.db") as db:
            await db.fetchval("SELECT 1", lane="sideways")  # type: ignore[arg-type]


async def test_sql_must_be_a_string(db: loopsafe.Database) -> None:
    with pytest.raises(TypeError):
        await db.fetchval(b"SELECT 1")  # type: ignore[arg-type]


scalars = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(),
    st.booleans(),
    st.builds(object),
    st.complex_numbers(allow_nan=False, max_magnitude=10),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=st.lists(scalars, max_size=4), placeholders=st.integers(0, 4))
async def test_any_parameters_either_round_trip_or_fail_typed(
    db: loopsafe.Database, params: list[Any], placeholders: int
) -> None:
    sql = "SELECT " + (", ".join("?" * placeholders) if placeholders else "1")
    try:
        row = await db.fetchone(sql, params)
    except loopsafe.ParameterError:
        return
    assert placeholders == len(params) or (placeholders == 0 and not params)
    if placeholders:
        for sent, got in zip(params, row, strict=True):
            assert got == (int(sent) if isinstance(sent, bool) else sent)
    assert await db.fetchval("SELECT 1") == 1


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sql=st.text(max_size=60))
async def test_any_text_as_sql_fails_typed_or_runs(db: loopsafe.Database, sql: str) -> None:
    try:
        await db.fetchall(sql, timeout=5)
    except (loopsafe.SQLError, loopsafe.ReadOnlyError):
        pass
    assert await db.fetchval("SELECT 1") == 1
    assert await db.fetchval("SELECT count(*) FROM sqlite_master WHERE name = 'items'") == 1
