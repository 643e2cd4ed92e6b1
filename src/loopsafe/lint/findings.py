"""What the linter reports: findings and files it could not parse."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hop:
    """One step of a chain: a function and the line where it makes the next call.

    The last hop of a chain is the blocking library call itself (no path, no line).
    """

    name: str
    path: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Finding:
    """A blocking call inside an ``async def``.

    ``path:line:col`` is the call in the async function; ``chain`` runs from that function
    through the helpers (each with the line of its next call) to the blocking call itself.
    """

    path: str
    line: int
    col: int
    code: str
    message: str
    chain: tuple[Hop, ...]
    fix: str


@dataclass(frozen=True)
class ParseError:
    """A file that could not be read or parsed; it was skipped."""

    path: str
    line: int
    col: int
    message: str


@dataclass(frozen=True)
class Report:
    """The findings of one run, and the files it had to skip."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
