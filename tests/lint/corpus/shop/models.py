"""Clean: classes whose methods are named like sqlite3's but do no I/O."""

from dataclasses import dataclass, field


@dataclass
class Query:
    sql: str
    log: list[str] = field(default_factory=list)

    def execute(self) -> str:
        self.log.append(self.sql)
        return self.sql

    def commit(self) -> int:
        return len(self.log)


class Cursor:
    def __init__(self, rows: list[int]) -> None:
        self.rows = rows

    def fetchall(self) -> list[int]:
        return list(self.rows)


def sleep(seconds: float) -> float:
    return seconds


async def run_query(sql: str) -> str:
    query = Query(sql)
    query.execute()
    return str(query.commit())


async def read_rows() -> list[int]:
    cur = Cursor([1, 2])
    for _ in cur.rows:
        sleep(0.1)
    return cur.fetchall()
