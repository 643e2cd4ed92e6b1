"""Pure helpers that share names with blocking APIs."""


def connect(path: str) -> dict[str, str]:
    return {"path": path}


def sleep(seconds: float) -> float:
    return seconds


def run(cmd: list[str]) -> str:
    return " ".join(cmd)


class Connection:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def execute(self, sql: str) -> "Connection":
        self.statements.append(sql)
        return self

    def commit(self) -> None:
        self.statements.clear()

    def fetchall(self) -> list[str]:
        return list(self.statements)
