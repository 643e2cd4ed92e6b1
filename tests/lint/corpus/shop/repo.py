"""Repository functions: one level above the sqlite3 helpers."""

from . import db
from .db import insert


def load_user(uid: int) -> tuple[object, ...] | None:
    rows = db.query("select * from users where id = ?", (uid,))
    return rows[0] if rows else None


def save_user(name: str) -> None:
    conn = db.connect()
    insert(conn, f"insert into users(name) values ('{name}')")
