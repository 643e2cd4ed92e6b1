"""Clean: a router and a client whose get/post are plain in-memory methods."""

from collections.abc import Callable


class Router:
    def __init__(self) -> None:
        self.routes: dict[str, Callable[[], str]] = {}

    def get(self, path: str) -> Callable[[], str] | None:
        return self.routes.get(path)

    def post(self, path: str, handler: Callable[[], str]) -> None:
        self.routes[path] = handler


class FakeSession:
    def get(self, url: str) -> str:
        return url


router = Router()


async def dispatch(path: str) -> str:
    handler = router.get(path)
    session = FakeSession()
    return handler() if handler else session.get(path)


async def register() -> None:
    router.post("/health", lambda: "ok")
