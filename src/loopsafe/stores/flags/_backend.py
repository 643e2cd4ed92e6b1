"""What Flags need from storage: the backend interface.

A PostgreSQL backend implements these, and can make :meth:`FlagsBackend.wait` return
as soon as another process changes a flag (LISTEN/NOTIFY); SQLite's just waits out the
interval, so snapshots there are refreshed by polling :meth:`FlagsBackend.version`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from loopsafe.stores.flags._flag import AuditEntry, Flag

__all__ = ["FlagsBackend"]


class FlagsBackend(Protocol):
    async def version(self) -> int:
        """A number that changes whenever any flag changes (cheap: polled for refreshes)."""
        ...

    async def wait(self, version: int, timeout: float) -> None:
        """Return once the version may have moved past ``version``, or after ``timeout``
        seconds at the latest."""
        ...

    async def load(self) -> tuple[int, dict[str, Flag]]:
        """Every flag, and the version they are as of (read in one snapshot)."""
        ...

    async def get(self, name: str) -> Flag | None: ...

    async def change(
        self,
        name: str,
        apply: Callable[[Flag | None], Flag | None],
        by: str | None,
        at: float,
    ) -> tuple[int, Flag | None, Flag | None]:
        """In one transaction: read the flag, store ``apply(flag)`` (``None`` deletes it),
        write an audit row when it changed, and bump the version. Returns the new version,
        the flag before and after."""
        ...

    async def audit(self, name: str, limit: int) -> list[AuditEntry]:
        """The flag's last ``limit`` changes, oldest first."""
        ...
