"""``# noqa`` comments: which codes each line suppresses."""

from __future__ import annotations

import re
import tokenize
from pathlib import Path

_NOQA = re.compile(
    r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?",
    re.IGNORECASE,
)

# A line maps to ``None`` when its comment names no codes: all codes are silenced.
Suppressions = dict[int, frozenset[str] | None]


def parse_noqa(path: Path) -> Suppressions:
    """The ``# noqa`` comments of a file, by line number (a file that fails to tokenize
    suppresses nothing)."""
    found: Suppressions = {}
    try:
        with tokenize.open(path) as stream:
            for token in tokenize.generate_tokens(stream.readline):
                if token.type != tokenize.COMMENT:
                    continue
                match = _NOQA.search(token.string)
                if match is None:
                    continue
                codes = match.group("codes")
                found[token.start[0]] = (
                    None if codes is None else frozenset(re.split(r"[\s,]+", codes.upper()))
                )
    except (OSError, SyntaxError, UnicodeDecodeError):
        return found
    return found


def is_suppressed(suppressions: Suppressions, line: int, code: str) -> bool:
    """Whether ``code`` is silenced on ``line``."""
    if line not in suppressions:
        return False
    codes = suppressions[line]
    return codes is None or code in codes
