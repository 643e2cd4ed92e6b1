"""Write small throwaway projects for the lint tests."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Create ``files`` (relative path → source) under ``root``; returns ``root``."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
    return root


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the only line of ``path`` containing ``needle``."""
    lines = [
        number
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if needle in line
    ]
    assert len(lines) == 1, f"{needle!r} found on lines {lines} of {path}"
    return lines[0]
