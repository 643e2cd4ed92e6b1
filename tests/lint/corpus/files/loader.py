"""Loaders: one level above the file helpers."""

from files.paths import read_config as _read
from files.paths import read_lines


def load_settings() -> dict[str, object]:
    return {"db": _read("db"), "http": _read("http")}


class Loader:
    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> list[str]:
        return read_lines(self.path)
