"""A standalone script (no package): module name comes from the file name."""

import asyncio
import subprocess


def disk_usage() -> str:
    return subprocess.check_output(["du", "-sh", "."]).decode()


async def main() -> None:
    print(subprocess.getoutput("uptime"))  # expect: LS501
    print(disk_usage())  # expect: LS502(1)
    await asyncio.sleep(0)


if __name__ == "__main__":
    asyncio.run(main())
