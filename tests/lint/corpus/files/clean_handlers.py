"""Clean: file work handed to threads or to async file APIs."""

import asyncio
import io
from pathlib import Path

import aiofiles
import anyio

from files import cache, paths


async def async_apis(name: str) -> str:
    text = await anyio.Path(name).read_text()
    async with aiofiles.open(name) as handle:
        text += await handle.read()
    return text


async def in_threads(name: str) -> object:
    config = await asyncio.to_thread(paths.read_config, name)
    text = await asyncio.to_thread(Path(name).read_text)
    warm = await asyncio.to_thread(cache.warm)
    return config, text, warm


async def pure_paths(name: str) -> str:
    path = Path("/srv") / name
    return str(path.with_suffix(".json").name) + path.suffix


async def in_memory() -> str:
    buffer = io.StringIO("a\nb\n")
    return buffer.read() + "".join(line for line in buffer)


async def nested_worker(name: str) -> list[str]:
    def read() -> list[str]:
        with open(name) as handle:
            return handle.readlines()

    return await asyncio.to_thread(read)
