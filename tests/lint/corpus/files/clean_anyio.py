"""Clean: names that look like blocking file APIs but are async ones."""

from aiofiles import open
from anyio import Path


async def read_both(name: str) -> str:
    async with open(name) as handle:
        head = await handle.read()
    body = await Path(name).read_text()
    if await Path(name).exists():
        await Path(name).write_text(head + body)
    return head + body


async def unknown_object(store: object, path: str | None = None) -> None:
    reader = getattr(store, "reader", None)
    if reader is not None:
        await reader.read(path)
