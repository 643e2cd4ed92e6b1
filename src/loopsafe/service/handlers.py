"""Webhook handlers: what the worker does with a delivery.

A handler is ``async def handler(delivery: Delivery) -> None``, named to the service as
``module:function`` (``LOOPSAFE_WEBHOOK_HANDLER`` / ``--webhook-handler``). It runs in a
job, at least once per delivery (so make it idempotent: ``delivery.source`` and
``delivery.id`` identify it). When it returns, the delivery is marked ``processed``; when
it raises, the job is retried with backoff and the delivery is ``failed`` until it
succeeds, or ``dead`` after the last attempt (``POST /jobs/{id}/retry`` tries again).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable

from loopsafe.service.deliveries import Delivery

__all__ = ["Handler", "load_handler", "mark_processed"]

Handler = Callable[[Delivery], Awaitable[None]]

log = logging.getLogger("loopsafe.service")


async def mark_processed(delivery: Delivery) -> None:
    """The default handler: accept every delivery (it is then marked ``processed``)."""
    log.info("delivery processed", extra={"source": delivery.source, "delivery": delivery.id})


def load_handler(spec: str) -> Handler:
    """The async function named by ``"module:function"``. Raises :class:`ValueError`."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"a webhook handler is module:function, not {spec!r}")
    try:
        fn = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load webhook handler {spec!r}: {exc}") from None
    if not inspect.iscoroutinefunction(fn):
        raise ValueError(f"webhook handler {spec!r} must be an async function")
    handler: Handler = fn
    return handler
