"""The analysis of a whole project: memoized walks, scopes, class attributes, globals."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from loopsafe.lint._index import (
    ClassInfo,
    FunctionInfo,
    GlobalSymbol,
    ModuleInfo,
    ProjectIndex,
)
from loopsafe.lint._values import Facts, FunctionValue, Ref, Value
from loopsafe.lint._walker import BUILTIN_NAMES, Walker

_NO_FACTS = Facts([], None, [], {})
THREAD_CLASS = "threading.Thread"


class Analyzer:
    """Answers questions about the project, walking each body at most a few times.

    Every cache has a guard against re-entry, so recursive and mutually recursive code
    resolves to "unknown" instead of looping.
    """

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self._facts: dict[FunctionInfo, Facts] = {}
        self._early_returns: dict[FunctionInfo, Value | None] = {}
        self._attributes: dict[ClassInfo, dict[str, Value]] = {}
        self._globals: dict[ModuleInfo, dict[str, Value | None]] = {}
        self._decorators: dict[FunctionInfo, frozenset[str]] = {}
        self._closures: dict[FunctionInfo, dict[str, Value | None]] = {}
        self._busy: set[tuple[str, object]] = set()

    def facts(self, function: FunctionInfo) -> Facts:
        """What ``function`` does: its events, return value and nested functions."""
        if function in self._facts:
            return self._facts[function]
        key = ("facts", function)
        if key in self._busy:
            return _NO_FACTS
        self._busy.add(key)
        try:
            facts = Walker(self, function.module, function, early=False).walk_function()
        finally:
            self._busy.discard(key)
        self._facts[function] = facts
        return facts

    def returns(self, function: FunctionInfo, *, early: bool) -> Value | None:
        """What calling ``function`` returns; early walks do not look at attributes."""
        if not early:
            return self.facts(function).returns
        if function in self._early_returns:
            return self._early_returns[function]
        key = ("returns", function)
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            returned = Walker(self, function.module, function, early=True).walk_function().returns
        finally:
            self._busy.discard(key)
        self._early_returns[function] = returned
        return returned

    def attribute(self, owner: ClassInfo, name: str) -> Value | None:
        """The type of ``self.name`` on instances of ``owner`` (or of its base classes)."""
        for current in self.index.mro(owner):
            attributes = self._class_attributes(current)
            if name in attributes:
                return attributes[name]
        return None

    def _class_attributes(self, owner: ClassInfo) -> dict[str, Value]:
        if owner in self._attributes:
            return self._attributes[owner]
        key = ("attributes", owner)
        if key in self._busy:
            return {}
        self._busy.add(key)
        try:
            found: dict[str, Value] = {}
            body = Walker(self, owner.module, early=True)
            for statement in owner.node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    value = body.annotation(statement.annotation)
                    if value is None and statement.value is not None:
                        value = body.expr(statement.value)
                    if value is not None:
                        found[statement.target.id] = value
            for method in owner.methods.values():
                walked = Walker(self, owner.module, method, early=True).walk_function()
                for name, value in walked.self_attrs.items():
                    found.setdefault(name, value)
        finally:
            self._busy.discard(key)
        self._attributes[owner] = found
        return found

    def module_globals(self, module: ModuleInfo) -> dict[str, Value | None]:
        """The types of the variables a module assigns at its top level."""
        if module in self._globals:
            return self._globals[module]
        key = ("globals", module)
        if key in self._busy:
            return {}
        self._busy.add(key)
        try:
            found = Walker(self, module, early=True).walk_module()
        finally:
            self._busy.discard(key)
        self._globals[module] = found
        return found

    def module_scope(self, module: ModuleInfo, name: str) -> Value | None:
        """What a name not bound locally refers to inside ``module``."""
        if name in module.functions:
            return FunctionValue(module.functions[name])
        if name in module.classes:
            return Ref(module.classes[name].qualname)
        if name in module.globals:
            return self.module_globals(module).get(name)
        if name in module.imports:
            return self.deref(module.imports[name])
        if name in BUILTIN_NAMES:
            return Ref(f"builtins.{name}")
        return None

    def deref(self, qualname: str) -> Value | None:
        """The value behind a qualified name: project functions and globals are looked up."""
        symbol = self.index.lookup(qualname)
        if isinstance(symbol, FunctionInfo):
            return FunctionValue(symbol)
        if isinstance(symbol, GlobalSymbol):
            return self.module_globals(symbol.module).get(symbol.name)
        if isinstance(symbol, ClassInfo):
            return Ref(symbol.qualname)
        return Ref(qualname)

    def decorators(self, function: FunctionInfo) -> frozenset[str]:
        """Qualified names of the decorators of ``function`` (``builtins.property``...)."""
        if function in self._decorators:
            return self._decorators[function]
        scope = Walker(self, function.module, early=True)
        names = set()
        for decorator in function.node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            value = scope.expr(target) if isinstance(target, ast.Name | ast.Attribute) else None
            if isinstance(value, Ref):
                names.add(value.name)
        found = frozenset(names)
        self._decorators[function] = found
        return found

    def is_thread_body(self, function: FunctionInfo) -> bool:
        """Whether ``function`` is the ``run()`` of a ``threading.Thread`` subclass: what
        ``start()`` runs in the new thread."""
        owner = function.owner
        if owner is None or function.node.name != "run" or function.is_async:
            return False
        for current in self.index.mro(owner):
            scope = Walker(self, current.module, early=True)
            for base in current.node.bases:
                value = scope.expr(base) if isinstance(base, ast.Name | ast.Attribute) else None
                if isinstance(value, Ref) and value.name == THREAD_CLASS:
                    return True
        return False

    def set_closure(self, function: FunctionInfo, env: dict[str, Value | None]) -> None:
        """Remember the enclosing locals a nested function sees."""
        self._closures[function] = env

    def closure(self, function: FunctionInfo) -> dict[str, Value | None]:
        """The enclosing locals of a nested function (empty for others)."""
        return self._closures.get(function, {})

    def all_functions(self) -> Iterator[FunctionInfo]:
        """Every function of the project, nested ones included (their parents are walked)."""
        pending = list(self.index.functions())
        while pending:
            function = pending.pop()
            yield function
            pending.extend(self.facts(function).nested)
