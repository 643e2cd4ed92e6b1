"""One benchmark server process: uvicorn (uvloop + httptools) serving one mode.

Run by the harness as ``python -m benchmarks.http.server --mode M --read R
--db PATH --rows N --fd FD``, where FD is a listening socket on 127.0.0.1 that the
harness bound to port 0 and passed down. The server stops on SIGTERM/SIGINT, and
also when its stdin closes, so it never outlives the harness.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from typing import cast, get_args

import uvicorn

from benchmarks.http._limits import raise_fd_limit
from benchmarks.http.app import ALL_MODES, Mode, configure, create_app
from benchmarks.http.dataset import Read

__all__ = ["main"]


def _stop_when_stdin_closes() -> None:
    def watch() -> None:
        sys.stdin.buffer.read()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """Serve until stopped."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http.server")
    parser.add_argument("--mode", choices=ALL_MODES, required=True)
    parser.add_argument("--read", choices=get_args(Read), required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)

    raise_fd_limit()
    config = configure(cast(Mode, args.mode), cast(Read, args.read), args.db, args.rows)
    sock = socket.socket(fileno=args.fd)
    uv_config = uvicorn.Config(
        create_app(config),
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        backlog=4096,
        timeout_graceful_shutdown=2,
    )
    _stop_when_stdin_closes()
    uvicorn.Server(uv_config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
