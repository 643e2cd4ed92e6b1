"""Clean: async sleeps and subprocesses, and blocking helpers run in threads."""

import asyncio
import functools
import subprocess
import time

import anyio

from jobs import shell, tasks
from jobs.retry import with_retries


async def sleeps() -> None:
    await asyncio.sleep(1)
    await anyio.sleep(0.5)
    await asyncio.to_thread(time.sleep, 1)


async def subprocesses() -> bytes:
    proc = await asyncio.create_subprocess_exec("ls", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    await proc.wait()
    shell_proc = await asyncio.create_subprocess_shell("true")
    await shell_proc.wait()
    return out


async def in_threads() -> object:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, functools.partial(tasks.build))
    await asyncio.to_thread(shell.run, ["ls"])
    return await asyncio.to_thread(with_retries, shell.git_rev)


class Scheduler:
    def sleep(self, seconds: float) -> float:
        return seconds

    async def tick(self) -> float:
        return self.sleep(1.0)


def cli_main() -> None:
    time.sleep(1)
    subprocess.run(["make"], check=True)
    tasks.deploy()


async def shadowed(time: object, subprocess: object) -> str:
    return f"{time}{subprocess}"
