"""A cache: two levels above the file helpers."""

from files import loader


def warm() -> dict[str, object]:
    return loader.load_settings()


class Cache:
    def __init__(self) -> None:
        self.loader = loader.Loader("settings.txt")
        self.entries: dict[str, object] = {}

    def refresh(self) -> list[str]:
        return self.loader.load()
