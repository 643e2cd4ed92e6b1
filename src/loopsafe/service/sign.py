"""``loopsafe sign``: the Standard Webhooks headers for a body, ready for ``curl``.

::

    loopsafe sign --secret whsec_... --body '{"event": "ping"}'

prints three ``-H`` arguments (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``) signing the body exactly as given.
"""

from __future__ import annotations

import argparse
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
    print(" ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in headers.items()))
    return 0
