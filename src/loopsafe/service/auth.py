"""Admin authorisation: a bearer token for every mutating admin route.

With no token configured the routes are disabled (403) rather than open: forgetting to
set ``LOOPSAFE_ADMIN_TOKEN`` must never expose cache writes or flag changes.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request

from loopsafe.service.problems import Problem
from loopsafe.service.settings import Settings

__all__ = ["AdminOnly", "require_admin"]


def require_admin(request: Request) -> None:
    """Raise 403 when no admin token is configured, 401 when the request lacks it."""
    settings: Settings = request.app.state.settings
    if settings.admin_token is None:
        raise Problem(403, "admin routes are disabled: set LOOPSAFE_ADMIN_TOKEN to enable them")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.admin_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise Problem(
            401,
            "a valid admin bearer token is required",
            headers={"WWW-Authenticate": 'Bearer realm="loopsafe"'},
        )


AdminOnly = Depends(require_admin)
