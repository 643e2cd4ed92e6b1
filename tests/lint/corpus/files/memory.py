"""Clean: reads and writes on in-memory files, and calls the code decides to keep on the loop."""

import asyncio
import io
import typing
from io import BytesIO
from pathlib import Path

from starlette.concurrency import run_in_threadpool


class Payload:
    value: typing.IO[bytes]

    def __init__(self, value: typing.IO[bytes]) -> None:
        self.value = value


class BytesPayload(Payload):
    # The subclass narrows the declared type: its reads never touch the disk.
    value: io.BytesIO

    async def as_bytes(self) -> bytes:
        return self.value.read()


class Buffered:
    def __init__(self) -> None:
        self.buffer = BytesIO()
        self.text = io.StringIO()

    async def write(self, data: bytes) -> None:
        self.buffer.write(data)
        self.text.write(data.decode())
        self.buffer.flush()


class Upload:
    def __init__(self, file: typing.BinaryIO) -> None:
        self.file = file
        self.in_memory = True

    async def read(self, size: int = -1) -> bytes:
        if self.in_memory:
            return self.file.read(size)
        return await run_in_threadpool(self.file.read, size)

    async def write(self, data: bytes) -> None:
        if not self.in_memory:
            await asyncio.to_thread(self.file.write, data)
        else:
            self.file.write(data)


async def local_buffer() -> bytes:
    with io.BytesIO() as buffer:
        buffer.write(b"x")
        return buffer.getvalue() + buffer.read()


class Listing:
    def __init__(self, path: Path, lazy: bool) -> None:
        self.path = path
        self.lazy = lazy

    async def entries(self) -> list[Path]:
        # As anyio.Path.iterdir: the code says when the call is cheap enough for the loop.
        found = self.path.iterdir() if self.lazy else await asyncio.to_thread(self.path.iterdir)
        return list(found)
