"""Clean: a sync command-line tool; it blocks, but never on an event loop."""

import asyncio
import sqlite3
import time
from pathlib import Path

import requests


def main() -> None:
    conn = sqlite3.connect("legacy.db")
    for row in conn.execute("select url from feeds"):
        body = requests.get(row[0], timeout=5).text
        Path("out.txt").write_text(body)
        time.sleep(1)
    conn.commit()


async def main_async() -> None:
    await asyncio.to_thread(main)


if __name__ == "__main__":
    main()
