"""File objects that may be on disk: a SpooledTemporaryFile rolls over once it grows."""

import asyncio
import tempfile
import typing
from pathlib import Path


async def spooled(data: bytes) -> bytes:
    spool = tempfile.SpooledTemporaryFile(max_size=1024)  # noqa: SIM115
    spool.write(data)  # expect: LS201
    return spool.read()  # expect: LS201


class Upload:
    def __init__(self, file: typing.BinaryIO) -> None:
        self.file = file

    async def read(self) -> bytes:
        # Not decided by the code: nothing hands this read to a thread.
        if self.file.seekable():
            return self.file.read()  # expect: LS201
        return b""


async def narrowed_on_one_side(data: bytes) -> None:
    with tempfile.TemporaryFile() as handle:
        handle.write(data)  # expect: LS201


async def decided_elsewhere(path: Path, lazy: bool) -> list[Path]:
    # The thread hand-off is in another expression: nothing decides this call.
    listing = path.iterdir() if lazy else []  # expect: LS201
    return list(listing) + await asyncio.to_thread(lambda: list(path.iterdir()))
