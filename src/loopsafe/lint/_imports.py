"""Module names from file paths, and what each imported name stands for."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of ``path`` and whether it is a package ``__init__``.

    The name climbs through parent directories for as long as they hold an
    ``__init__.py``, so ``src/shop/db.py`` is ``shop.db`` and a lone ``tool.py`` is ``tool``.
    """
    path = path.resolve()
    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file():
        parts.append(directory.name)
        directory = directory.parent
    return ".".join(reversed(parts)), is_package


def package_root(path: Path) -> Path | None:
    """The outermost package directory holding ``path``, or ``None`` outside packages."""
    directory = path.resolve().parent
    root: Path | None = None
    while (directory / "__init__.py").is_file():
        root = directory
        directory = directory.parent
    return root


def resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str | None:
    """The absolute name of ``from {'.' * level}{target} import ...`` written in ``module``."""
    if level == 0:
        return target
    parts = module.split(".") if module else []
    if not is_package:
        parts = parts[:-1]
    drop = level - 1
    if drop > len(parts):
        return None
    parts = parts[: len(parts) - drop]
    if target:
        parts.append(target)
    return ".".join(parts) or None


def import_bindings(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool
) -> list[tuple[str, str]]:
    """The ``(local name, qualified name)`` pairs an import statement binds.

    ``import a.b`` binds ``a``; ``import a.b as c`` binds ``c`` to ``a.b``;
    ``from .x import y as z`` binds ``z`` to ``<package>.x.y``. Star imports bind nothing.
    """
    if isinstance(node, ast.Import):
        pairs = []
        for alias in node.names:
            if alias.asname:
                pairs.append((alias.asname, alias.name))
            else:
                head = alias.name.split(".", 1)[0]
                pairs.append((head, head))
        return pairs
    base = resolve_relative(module, is_package, node.level, node.module)
    if base is None:
        return []
    return [
        (alias.asname or alias.name, f"{base}.{alias.name}")
        for alias in node.names
        if alias.name != "*"
    ]


def top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a module body, looking into ``if``/``try``/``with`` blocks as Python does."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If | ast.Try | ast.With):
            for child in ast.iter_child_nodes(statement):
                if isinstance(child, ast.stmt):
                    yield from top_level([child])
                elif isinstance(child, ast.ExceptHandler):
                    yield from top_level(child.body)


def module_imports(tree: ast.Module, module: str, is_package: bool) -> dict[str, str]:
    """Names bound by the imports of a module body, including those under ``if``/``try``."""
    bindings: dict[str, str] = {}
    for statement in top_level(tree.body):
        if isinstance(statement, ast.Import | ast.ImportFrom):
            bindings.update(import_bindings(statement, module, is_package))
    return bindings
