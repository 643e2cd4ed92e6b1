"""``[tool.loopsafe.lint]`` in the nearest ``pyproject.toml``."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """The ``[tool.loopsafe.lint]`` table cannot be used."""


@dataclass(frozen=True)
class Config:
    """Settings read from ``pyproject.toml``; ``source`` is the file they came from."""

    allow: tuple[str, ...] = ()
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    max_depth: int | None = None
    source: Path | None = None


def find_config(paths: Sequence[Path]) -> Config:
    """The config of the nearest ``pyproject.toml`` with a ``[tool.loopsafe.lint]`` table.

    The search starts at the common directory of ``paths`` and climbs to the root, skipping
    ``pyproject.toml`` files without the table (as ruff does with ``[tool.ruff]``).
    """
    resolved = [path.resolve() for path in paths]
    if not resolved:
        return Config()
    start = Path(os.path.commonpath(resolved))
    if start.is_file():
        start = start.parent
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            table = _table(candidate)
            if table is not None:
                return _parse(table, candidate)
    return Config()


def _table(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from error
    table = document.get("tool", {}).get("loopsafe", {}).get("lint")
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.loopsafe.lint] must be a table")
    return table


def _strings(table: dict[str, Any], key: str, path: Path) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: [tool.loopsafe.lint] {key} must be a list of strings")
    return tuple(value)


def _parse(table: dict[str, Any], path: Path) -> Config:
    unknown = set(table) - {"allow", "select", "ignore", "max-depth"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown [tool.loopsafe.lint] keys: {', '.join(sorted(unknown))}"
        )
    depth = table.get("max-depth")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 1):
        raise ConfigError(f"{path}: [tool.loopsafe.lint] max-depth must be a positive integer")
    return Config(
        allow=_strings(table, "allow", path) or (),
        select=_strings(table, "select", path),
        ignore=_strings(table, "ignore", path) or (),
        max_depth=depth,
        source=path,
    )
