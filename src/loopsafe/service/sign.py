"""``loopsafe sign``: the Standard Webhooks headers for a body, ready for ``curl``.

::

    loopsafe sign --secret whsec_... --body '{"event": "ping"}'

prints the three headers (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``)
signing the body exactly as given, as a curl config (``| curl -K - ...``), or with
``--format args`` as ``-H`` arguments, or ``--format json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import uuid

from loopsafe.service.settings import decode_secret
from loopsafe.service.webhooks import sign

__all__ = ["main"]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="loopsafe sign", description="Sign a webhook body (Standard Webhooks, v1)."
    )
    p.add_argument(
        "--secret",
        default=os.environ.get("LOOPSAFE_SIGN_SECRET"),
        help="whsec_... secret (default: $LOOPSAFE_SIGN_SECRET)",
    )
    p.add_argument("--body", required=True, help="the exact body to send")
    p.add_argument("--id", default=None, help="delivery id (default: a new msg_... id)")
    p.add_argument("--timestamp", type=int, default=None, help="seconds (default: now)")
    p.add_argument(
        "--format",
        choices=("curl", "args", "json"),
        default="curl",
        help="curl: a config for `curl -K -` (default); args: -H arguments; json: an object",
    )
    args = p.parse_args(argv)
    if not args.secret:
        print("loopsafe sign: give --secret or set LOOPSAFE_SIGN_SECRET", file=sys.stderr)
        return 2
    try:
        key = decode_secret(args.secret)
    except ValueError as exc:
        print(f"loopsafe sign: {exc}", file=sys.stderr)
        return 2
    msg_id = args.id or f"msg_{uuid.uuid4().hex}"
    stamp = int(time.time()) if args.timestamp is None else args.timestamp
    signature = sign(key, msg_id, stamp, args.body.encode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    if args.format == "args":
        print(" ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in headers.items()))
    elif args.format == "json":
        print(json.dumps(headers))
    else:
        # curl's config syntax: a quoted value, with backslash and quote escaped.
        for k, v in headers.items():
            value = f"{k}: {v}".replace("\\", "\\\\").replace('"', '\\"')
            print(f'header = "{value}"')
    return 0
