"""Async handlers over the stores: attributes, inheritance, properties, context managers."""

import sqlite3

from svc.storage import CONN, UserStore, get_connection, transaction


class Handler:
    def __init__(self, store: UserStore) -> None:
        self.store = store

    async def get(self, uid: int) -> list[object]:
        return self.store.by_id(uid)  # expect: LS102(2)

    async def size(self) -> int:
        return self.store.size  # expect: LS102(1)


async def make_store() -> UserStore:
    return UserStore("users.db")  # expect: LS102(1)


async def global_connection() -> list[object]:
    return CONN.execute("select 1").fetchall()  # expect: LS101


async def returned_connection() -> None:
    conn = get_connection()
    conn.execute("delete from users")  # expect: LS101


async def in_transaction() -> None:
    with transaction("users.db") as conn:  # expect: LS102(1)
        conn.execute("insert into users(name) values ('x')")  # expect: LS101


async def connection_as_context() -> None:
    with sqlite3.connect("users.db") as conn:  # expect: LS101 LS101
        conn.executemany("insert into t values (?)", [(1,), (2,)])  # expect: LS101


class AuditedStore(UserStore):
    def by_id(self, uid: int) -> list[object]:
        print("audit", uid)
        return super().by_id(uid)


async def audited(store: AuditedStore) -> list[object]:
    return store.by_id(1)  # expect: LS102(3)
