"""Mutually recursive helpers: the linter must terminate and still find the sleep."""

import time


def ping(n: int) -> None:
    if n <= 0:
        time.sleep(0.1)
        return
    pong(n - 1)


def pong(n: int) -> None:
    ping(n - 1)


def even(n: int) -> bool:
    return True if n == 0 else odd(n - 1)


def odd(n: int) -> bool:
    return False if n == 0 else even(n - 1)


def countdown(n: int) -> int:
    return countdown(n - 1) if n else 0


async def wait_in_cycle() -> None:
    ping(3)  # expect: LS302(1)
    pong(3)  # expect: LS302(2)


async def pure_cycle() -> bool:
    return even(4) and countdown(3) == 0
