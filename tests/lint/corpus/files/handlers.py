"""Async handlers that block on file I/O, directly and through 1, 2 and 3 helpers."""

import io
import pathlib
import shutil
from pathlib import Path

from files import cache, paths
from files.cache import Cache
from files.loader import load_settings


async def direct_open(name: str) -> str:
    with open(name) as handle:  # expect: LS201
        first = handle.readline()  # expect: LS201
        rest = [line.strip() for line in handle]  # expect: LS201
    return first + "".join(rest)


async def direct_pathlib(name: str) -> bytes:
    base = Path("/srv") / "data"
    text = (base / name).read_text()  # expect: LS201
    pathlib.Path(name).with_suffix(".txt").write_text(text)  # expect: LS201
    return base.joinpath(name).read_bytes()  # expect: LS201


async def direct_misc(src: str, raw: io.BufferedReader) -> None:
    handle = io.open(src, "rb")  # expect: LS201  # noqa: SIM115, UP020
    shutil.copyfile(src, src + ".copy")  # expect: LS201
    raw.read()  # expect: LS201
    handle.close()


async def one_level(name: str) -> dict[str, object]:
    return paths.read_config(name)  # expect: LS202(1)


async def two_levels() -> dict[str, object]:
    return load_settings()  # expect: LS202(2)


async def three_levels() -> dict[str, object]:
    return cache.warm()  # expect: LS202(3)


async def three_levels_through_methods() -> list[str]:
    store = Cache()
    return store.refresh()  # expect: LS202(3)
