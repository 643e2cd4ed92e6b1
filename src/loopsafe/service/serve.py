"""``loopsafe serve``: run the reference service under uvicorn (uvloop, httptools).

Flags override the environment (``LOOPSAFE_*``). The flags are written back into the
environment before uvicorn starts, so ``--workers N`` processes all read the same settings.
"""

from __future__ import annotations

import argparse
import os
import sys

from pydantic import ValidationError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="loopsafe serve",
        description="Serve signed webhooks, a cache, flags and jobs over HTTP, on loopsafe.",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--data-dir", help="where the stores keep their files (default ./var)")
    p.add_argument("--workers", type=int, help="server processes on the same files (default 1)")
    p.add_argument("--webhook-handler", help="module:function that processes a delivery")
    p.add_argument(
        "--no-worker",
        action="store_true",
        help="don't run the job worker in the server (run `loopsafe worker` instead)",
    )
    p.add_argument("--log-level", help="uvicorn's log level (default info)")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    overrides = {
        "LOOPSAFE_HOST": args.host,
        "LOOPSAFE_PORT": None if args.port is None else str(args.port),
        "LOOPSAFE_DATA_DIR": args.data_dir,
        "LOOPSAFE_WORKERS": None if args.workers is None else str(args.workers),
        "LOOPSAFE_WEBHOOK_HANDLER": args.webhook_handler,
        "LOOPSAFE_WORKER": "false" if args.no_worker else None,
        "LOOPSAFE_LOG_LEVEL": args.log_level,
    }
    os.environ.update({k: v for k, v in overrides.items() if v is not None})

    from loopsafe.service.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        # Pydantic's message names the field and what is wrong, never a SecretStr's value.
        print(f"loopsafe serve: bad settings\n{exc}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    import uvicorn

    from loopsafe.service.logs import log_config

    shown = "[::1]" if settings.host == "::1" else settings.host
    print(
        f"loopsafe serve: http://{shown}:{settings.port}  (docs: http://{shown}:{settings.port}"
        f"/docs, data: {settings.data_dir}, workers: {settings.workers})",
        flush=True,
    )
    uvicorn.run(
        "loopsafe.service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.grace_period) + 1,
        access_log=False,  # RequestId logs each request, with its id
        log_config=log_config(settings.log_level),
    )
    return 0
