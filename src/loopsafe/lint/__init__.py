"""``loopsafe lint``: find blocking calls inside ``async def`` and asyncio calls that are
not thread-safe in code run in worker threads, also through helpers.

A static tool: it imports nothing of the runtime (``loopsafe.watch``, the engine's threads).

>>> from loopsafe.lint import lint_paths
>>> for finding in lint_paths(["src/"]):  # doctest: +SKIP
...     print(finding.path, finding.line, finding.code, finding.message)
"""

from loopsafe.lint.api import DEFAULT_MAX_DEPTH, check_paths, lint_paths
from loopsafe.lint.findings import Finding, Hop, ParseError, Report
from loopsafe.lint.rules import RULES, Category, Rule

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "RULES",
    "Category",
    "Finding",
    "Hop",
    "ParseError",
    "Report",
    "Rule",
    "check_paths",
    "lint_paths",
]
