"""What the routes share: the settings and the open stores, on ``app.state.service``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from loopsafe.service.deliveries import Deliveries
from loopsafe.service.jobs import Jobs
from loopsafe.service.settings import Settings
from loopsafe.stores import Cache, Flags

__all__ = ["Service", "service"]


@dataclass(slots=True)
class Service:
    settings: Settings
    cache: Cache
    flags: Flags
    jobs: Jobs
    deliveries: Deliveries


def service(request: Request) -> Service:
    """The open stores of the app serving ``request`` (a FastAPI dependency)."""
    state: Service = request.app.state.service
    return state
