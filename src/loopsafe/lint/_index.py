"""The project index: the modules under the linted paths and what they define."""

from __future__ import annotations

import ast
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from loopsafe.lint._imports import module_imports, module_name, package_root, top_level
from loopsafe.lint.findings import ParseError

SKIPPED_DIRS = frozenset(
    {
        "__pycache__",
        "node_modules",
        "venv",
        "build",
        "dist",
        "site-packages",
    }
)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(eq=False)
class ModuleInfo:
    """One parsed source file."""

    name: str
    path: Path
    is_package: bool
    tree: ast.Module
    imports: dict[str, str]
    functions: dict[str, FunctionInfo] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)
    reported: bool = False


@dataclass(eq=False)
class ClassInfo:
    """A top-level class and its methods."""

    qualname: str
    module: ModuleInfo
    node: ast.ClassDef
    methods: dict[str, FunctionInfo] = field(default_factory=dict)


@dataclass(eq=False)
class FunctionInfo:
    """A function, method or nested function; ``owner`` is the class of a method."""

    qualname: str
    module: ModuleInfo
    node: FunctionNode
    owner: ClassInfo | None = None
    parent: FunctionInfo | None = None

    @property
    def is_async(self) -> bool:
        """Whether this is an ``async def``."""
        return isinstance(self.node, ast.AsyncFunctionDef)

    @property
    def local_name(self) -> str:
        """The name inside its module: ``get_user``, ``Repo.load``."""
        return self.qualname.removeprefix(self.module.name + ".")


@dataclass(frozen=True)
class GlobalSymbol:
    """A module-level variable: ``module.name``."""

    module: ModuleInfo
    name: str


Symbol = ModuleInfo | ClassInfo | FunctionInfo | GlobalSymbol


def discover(paths: Iterable[Path]) -> list[Path]:
    """The Python files named by ``paths`` (files, or directories searched recursively).

    Raises ``FileNotFoundError`` for a path that does not exist.
    """
    found: dict[Path, None] = {}
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        if path.is_file():
            found[path.resolve()] = None
            continue
        for candidate in sorted(path.rglob("*.py")):
            relative = candidate.relative_to(path).parts[:-1]
            if any(part in SKIPPED_DIRS or part.startswith(".") for part in relative):
                continue
            found[candidate.resolve()] = None
    return list(found)


def _parse(path: Path) -> ast.Module | ParseError:
    try:
        with tokenize.open(path) as stream:
            source = stream.read()
        return ast.parse(source, filename=str(path))
    except SyntaxError as error:
        return ParseError(
            str(path), error.lineno or 1, error.offset or 1, f"SyntaxError: {error.msg}"
        )
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return ParseError(str(path), 1, 1, f"cannot read file: {error}")


class ProjectIndex:
    """Every module found, by name, with a resolver for qualified names."""

    def __init__(self) -> None:
        self.modules: dict[str, ModuleInfo] = {}
        self.all_modules: list[ModuleInfo] = []
        self.errors: list[ParseError] = []

    @classmethod
    def build(cls, paths: Iterable[Path]) -> ProjectIndex:
        """Index the files under ``paths``, plus the rest of the packages they belong to.

        Only files under ``paths`` are reported on; the rest of their packages is indexed so
        calls into sibling modules can be followed.
        """
        index = cls()
        reported = discover(paths)
        roots = {root for root in map(package_root, reported) if root is not None}
        siblings = discover(sorted(roots))
        for path in reported:
            index.add(path, reported=True)
        for path in sorted(set(siblings) - set(reported)):
            index.add(path, reported=False)
        return index

    def add(self, path: Path, *, reported: bool) -> ModuleInfo | None:
        """Parse and index one file; a parse error is recorded when it is reported on."""
        tree = _parse(path)
        if isinstance(tree, ParseError):
            if reported:
                self.errors.append(tree)
            return None
        name, is_package = module_name(path)
        module = ModuleInfo(
            name, path, is_package, tree, module_imports(tree, name, is_package), reported=reported
        )
        for statement in top_level(tree.body):
            if isinstance(statement, FunctionNode):
                module.functions[statement.name] = FunctionInfo(
                    f"{name}.{statement.name}", module, statement
                )
            elif isinstance(statement, ast.ClassDef):
                info = ClassInfo(f"{name}.{statement.name}", module, statement)
                for item in statement.body:
                    if isinstance(item, FunctionNode):
                        info.methods[item.name] = FunctionInfo(
                            f"{info.qualname}.{item.name}", module, item, owner=info
                        )
                module.classes[statement.name] = info
            elif isinstance(statement, ast.Assign | ast.AnnAssign):
                targets = (
                    statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                )
                module.globals.update(t.id for t in targets if isinstance(t, ast.Name))
        self.modules.setdefault(name, module)
        self.all_modules.append(module)
        return module

    def functions(self) -> Iterator[FunctionInfo]:
        """Every top-level function and method of every module."""
        for module in self.all_modules:
            yield from module.functions.values()
            for info in module.classes.values():
                yield from info.methods.values()

    def lookup(self, qualname: str, _depth: int = 0) -> Symbol | None:
        """What ``qualname`` names in the project, following re-exports; ``None`` if outside."""
        if _depth > 8:
            return None
        parts = qualname.split(".")
        for cut in range(len(parts), 0, -1):
            module = self.modules.get(".".join(parts[:cut]))
            if module is not None:
                return self._member(module, parts[cut:], _depth)
        return None

    def _member(self, module: ModuleInfo, rest: list[str], depth: int) -> Symbol | None:
        if not rest:
            return module
        head, tail = rest[0], rest[1:]
        if head in module.functions:
            return module.functions[head] if not tail else None
        if head in module.classes:
            info = module.classes[head]
            if not tail:
                return info
            return self.method(info, tail[0]) if len(tail) == 1 else None
        if head in module.imports:
            return self.lookup(".".join([module.imports[head], *tail]), depth + 1)
        if head in module.globals and not tail:
            return GlobalSymbol(module, head)
        return None

    def bases(self, info: ClassInfo) -> list[ClassInfo]:
        """The direct base classes of ``info`` that are defined in the project."""
        found = []
        for base in info.node.bases:
            name = _dotted(base)
            if name is None:
                continue
            head, _, tail = name.partition(".")
            if head in info.module.classes and not tail:
                qualified = f"{info.module.name}.{head}"
            elif head in info.module.imports:
                qualified = ".".join(filter(None, [info.module.imports[head], tail]))
            else:
                continue
            symbol = self.lookup(qualified)
            if isinstance(symbol, ClassInfo):
                found.append(symbol)
        return found

    def mro(self, info: ClassInfo) -> list[ClassInfo]:
        """``info`` and its project base classes, depth first, each once."""
        order: list[ClassInfo] = []
        pending = [info]
        while pending:
            current = pending.pop(0)
            if current not in order:
                order.append(current)
                pending.extend(self.bases(current))
        return order

    def method(self, info: ClassInfo, name: str) -> FunctionInfo | None:
        """The method ``name`` of ``info``, inherited from a project base class if need be."""
        for current in self.mro(info):
            if name in current.methods:
                return current.methods[name]
        return None


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None
