"""Async workers that block on sleeps and subprocesses, directly and through helpers."""

import os
import subprocess
import time
from time import sleep

from jobs import shell, tasks


async def direct_sleep() -> None:
    time.sleep(1)  # expect: LS301
    sleep(0.5)  # expect: LS301


async def direct_subprocess() -> bytes:
    subprocess.run(["ls"], check=True)  # expect: LS501
    os.system("true")  # expect: LS501
    out, _ = subprocess.Popen(["ls"], stdout=subprocess.PIPE).communicate()  # expect: LS501
    return out + subprocess.check_output(["pwd"])  # expect: LS501


async def with_popen() -> None:
    with subprocess.Popen(["sleep", "1"]) as proc:  # expect: LS501
        print(proc.pid)


async def one_level() -> str:
    shell.run(["ls"])  # expect: LS502(1)
    shell.spawn_and_wait(["ls"])  # expect: LS502(1)
    return shell.git_rev()  # expect: LS502(1)


async def two_levels() -> None:
    tasks.build()  # expect: LS502(2) LS302(2)


async def three_levels() -> None:
    tasks.deploy()  # expect: LS502(3) LS302(3)


class Worker:
    async def run(self) -> int:
        time.sleep(0.1)  # expect: LS301
        return self.step()  # expect: LS502(3)

    def step(self) -> int:
        return self.helper()

    def helper(self) -> int:
        return shell.shell("true")
