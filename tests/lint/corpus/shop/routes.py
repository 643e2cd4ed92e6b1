"""Async handlers that block on sqlite3, directly and through 1, 2 and 3 helpers."""
# ruff: noqa: RUF100, RUF102

import sqlite3 as sq

import shop
from shop import repo, service
from shop.db import DB_PATH, count_rows
from shop.db import query as q


async def direct_calls() -> list[object]:
    conn = sq.connect(DB_PATH)  # expect: LS101
    cur = conn.cursor()
    cur.execute("select 1")  # expect: LS101
    rows: list[object] = cur.fetchall()  # expect: LS101
    for row in conn.execute("select 2"):  # expect: LS101
        rows.append(row)
    conn.commit()  # expect: LS101
    return rows


async def iterate_cursor(conn: sq.Connection) -> int:
    cur = conn.cursor()
    total = 0
    for _row in cur:  # expect: LS101
        total += 1
    return total + len([r[0] for r in cur])  # expect: LS101


async def one_level() -> list[tuple[object, ...]]:
    return q("select 1")  # expect: LS102(1)


async def through_reexport() -> list[tuple[object, ...]]:
    return shop.run_query("select 1")  # expect: LS102(1)


async def two_levels(uid: int) -> object:
    return repo.load_user(uid)  # expect: LS102(2)


async def three_levels(uid: int) -> object:
    return service.get_profile(uid)  # expect: LS102(3)


async def counted(conn: sq.Connection) -> int:
    return count_rows(conn.cursor())  # expect: LS102(1)


async def suppressed() -> None:
    q("select 1")  # noqa: LS102
    q("select 2")  # noqa
    q("select 3")  # noqa: LS101, LS102


async def other_code_suppressed() -> None:
    q("select 1")  # expect: LS102(1)  # noqa: LS201
