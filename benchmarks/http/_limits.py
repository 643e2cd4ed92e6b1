"""Process limits the benchmark's processes need."""

from __future__ import annotations

import resource

__all__ = ["raise_fd_limit"]


def raise_fd_limit() -> None:
    """Lift the soft open-files limit towards the hard one: hundreds of sockets are normal here."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
