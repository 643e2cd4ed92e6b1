"""One walk over a function body: local types, blocking calls, calls into the project.

The walk is linear and flow-insensitive within a body (the last assignment wins), and it
never enters ``lambda`` bodies or nested ``def`` bodies: those run later, if at all, and
are walked as functions of their own.
"""

from __future__ import annotations

import ast
import builtins
from typing import TYPE_CHECKING

from loopsafe.lint import _catalog as catalog
from loopsafe.lint._imports import import_bindings
from loopsafe.lint._index import ClassInfo, FunctionInfo, FunctionNode, ModuleInfo
from loopsafe.lint._threads import decided_calls, lambda_function
from loopsafe.lint._values import (
    BoundMethod,
    Event,
    Facts,
    FunctionValue,
    Instance,
    Managed,
    Ref,
    Value,
)
from loopsafe.lint.rules import Category

if TYPE_CHECKING:
    from loopsafe.lint._analyze import Analyzer

BUILTIN_NAMES = frozenset(dir(builtins))
CONTEXT_MANAGER = "contextlib.contextmanager"
# Builtins that drain the iterator they are given.
CONSUMERS = frozenset(
    f"builtins.{name}"
    for name in [
        "list",
        "tuple",
        "set",
        "frozenset",
        "dict",
        "sorted",
        "next",
        "sum",
        "min",
        "max",
        "any",
        "all",
    ]
)
OPTIONAL_WRAPPERS = frozenset({"typing.Optional", "typing.Annotated", "typing.Union"})


class Walker:
    """Walks one function (or module) body once; ``early`` walks skip attribute types.

    Early walks infer the attributes of classes and the globals of modules, so they must
    not depend on them.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        module: ModuleInfo,
        function: FunctionInfo | None = None,
        *,
        early: bool,
    ) -> None:
        self.analyzer = analyzer
        self.index = analyzer.index
        self.module = module
        self.function = function
        self.early = early
        self.env: dict[str, Value | None] = {}
        self.events: list[Event] = []
        self.returned: list[Value | None] = []
        self.yielded: list[Value | None] = []
        self.nested: list[FunctionInfo] = []
        self.self_attrs: dict[str, Value] = {}
        self.self_name: str | None = None
        self._awaited: set[int] = set()
        self._decided: set[int] = set()
        # Local name -> the parameter whose argument it still holds (itself, or a partial).
        self._params: dict[str, str] = {}
        self.thread_params: set[str] = set()

    # -- entry points -------------------------------------------------------------------

    def walk_function(self) -> Facts:
        """Walk ``self.function`` and return what it does and returns."""
        function = self.function
        assert function is not None
        self.env.update(self.analyzer.closure(function))
        self._bind_parameters(function)
        self.block(function.node.body)
        decorators = self.analyzer.decorators(function)
        returns: Value | None
        if CONTEXT_MANAGER in decorators:
            returns = Managed(_first(self.yielded))
        else:
            returns = self.annotation(function.node.returns) or _first(self.returned)
        return Facts(
            self.events, returns, self.nested, self.self_attrs, frozenset(self.thread_params)
        )

    def walk_module(self) -> dict[str, Value | None]:
        """Walk the module body and return the types of its globals."""
        self.block(self.module.tree.body)
        return self.env

    def _bind_parameters(self, function: FunctionInfo) -> None:
        arguments = function.node.args
        positional = [*arguments.posonlyargs, *arguments.args]
        decorators = self.analyzer.decorators(function)
        if function.owner is not None and positional and "builtins.staticmethod" not in decorators:
            first, positional = positional[0].arg, positional[1:]
            if "builtins.classmethod" in decorators:
                self.env[first] = Ref(function.owner.qualname)
            else:
                self.env[first] = Instance(function.owner.qualname)
                self.self_name = first
        self._params = {a.arg: a.arg for a in [*positional, *arguments.kwonlyargs]}
        rest = [*positional, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        for argument in rest:
            if argument is not None:
                self.env[argument.arg] = self.annotation(argument.annotation)

    # -- statements ---------------------------------------------------------------------

    def block(self, body: list[ast.stmt]) -> None:
        """Walk statements in order."""
        for position, statement in enumerate(body):
            if isinstance(statement, ast.If):
                self._decided |= decided_calls(statement, body[position + 1 :])
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        """Walk one statement."""
        if isinstance(node, ast.Assign):
            value = self.expr(node.value)
            param = self._param_in(node.value)
            for target in node.targets:
                self.bind(target, value)
                if param is not None and isinstance(target, ast.Name):
                    self._params[target.id] = param
        elif isinstance(node, ast.AnnAssign):
            value = self.expr(node.value) if node.value is not None else None
            self.bind(node.target, self.annotation(node.annotation) or value)
        elif isinstance(node, ast.Return):
            self.returned.append(self.expr(node.value) if node.value is not None else None)
        elif isinstance(node, ast.For | ast.AsyncFor):
            value = self.expr(node.iter)
            self.iterate(value, node.iter, is_async=isinstance(node, ast.AsyncFor))
            self.bind(node.target, None)
            self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, ast.With | ast.AsyncWith):
            self._with(node)
        elif isinstance(node, FunctionNode):
            self._define(node)
        elif isinstance(node, ast.ClassDef):
            self.env[node.name] = None
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if self.function is not None:
                for local, qualified in import_bindings(
                    node, self.module.name, self.module.is_package
                ):
                    self.env[local] = self.analyzer.deref(qualified)
        else:
            self._generic(node)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        is_async = isinstance(node, ast.AsyncWith)
        for item in node.items:
            value = self.expr(item.context_expr)
            entered: Value | None = None
            if isinstance(value, Managed):
                entered = value.inner
            elif is_async and isinstance(value, Instance):
                if value.type in catalog.ASYNC_WITH_ENTERS:
                    entered = value
            elif isinstance(value, Instance):
                entered = value
                category = catalog.WITH_EXIT_BLOCKS.get(value.type)
                if category is not None:
                    self.blocking(node, category, f"{value.type}.__exit__")
                owner = self._project_class(value.type)
                if owner is not None:
                    entered = self._dunder(node, owner, "__enter__") or value
                    self._dunder(node, owner, "__exit__")
            if item.optional_vars is not None:
                self.bind(item.optional_vars, entered)
        self.block(node.body)

    def _dunder(self, node: ast.AST, owner: ClassInfo, name: str) -> Value | None:
        method = self.index.method(owner, name)
        if method is None:
            return None
        self.call_event(node, method)
        return self.analyzer.returns(method, early=self.early)

    def _define(self, node: FunctionNode) -> None:
        if self.function is None or self.early:
            self.env[node.name] = None
            return
        qualname = f"{self.function.qualname}.<locals>.{node.name}"
        info = FunctionInfo(qualname, self.module, node, parent=self.function)
        self.analyzer.set_closure(info, dict(self.env))
        self.nested.append(info)
        self.env[node.name] = FunctionValue(info)

    def _generic(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.statement(child)
            elif isinstance(child, ast.expr):
                self.expr(child)
            elif isinstance(child, ast.ExceptHandler):
                if child.type is not None:
                    self.expr(child.type)
                if child.name:
                    self.env[child.name] = None
                self.block(child.body)
            elif isinstance(child, ast.match_case):
                if child.guard is not None:
                    self.expr(child.guard)
                self.block(child.body)

    def bind(self, target: ast.expr, value: Value | None) -> None:
        """Record that ``target`` now holds ``value``."""
        if isinstance(target, ast.Name):
            self.env[target.id] = value
            self._params.pop(target.id, None)  # no longer the caller's argument
        elif isinstance(target, ast.Attribute):
            owner = target.value
            if isinstance(owner, ast.Name) and owner.id == self.self_name:
                if value is not None:
                    self.self_attrs.setdefault(target.attr, value)
            else:
                self.expr(owner)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self.bind(element, None)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, None)
        else:
            self.expr(target)

    # -- expressions --------------------------------------------------------------------

    def expr(self, node: ast.expr) -> Value | None:
        """Walk an expression and return what it evaluates to, when known."""
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Attribute):
            return self.attribute(self.expr(node.value), node.attr, node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Await):
            self._awaited.add(id(node.value))
            return self.expr(node.value)
        if isinstance(node, ast.NamedExpr):
            value = self.expr(node.value)
            self.bind(node.target, value)
            return value
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left), self.expr(node.right)
            path = Instance(catalog.PATH)
            if isinstance(node.op, ast.Div) and path in (left, right):
                return path
            return None
        if isinstance(node, ast.IfExp):
            self._decided |= decided_calls(node)
            self.expr(node.test)
            return _first([self.expr(node.body), self.expr(node.orelse)])
        if isinstance(node, ast.BoolOp):
            return _first([self.expr(value) for value in node.values])
        if isinstance(node, ast.Yield | ast.YieldFrom):
            self.yielded.append(self.expr(node.value) if node.value is not None else None)
            return None
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            self._comprehension(node)
            return None
        if isinstance(node, ast.Lambda):
            return self._lambda(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child)
            elif isinstance(child, ast.keyword):
                self.expr(child.value)
        return None

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> None:
        for generator in node.generators:
            value = self.expr(generator.iter)
            self.iterate(value, generator.iter, is_async=bool(generator.is_async))
            self.bind(generator.target, None)
            for condition in generator.ifs:
                self.expr(condition)
        if isinstance(node, ast.DictComp):
            self.expr(node.key)
            self.expr(node.value)
        else:
            self.expr(node.elt)

    def name(self, identifier: str) -> Value | None:
        """What a bare name refers to: a local, then the module scope, then builtins."""
        if identifier in self.env:
            return self.env[identifier]
        return self.analyzer.module_scope(self.module, identifier)

    def attribute(self, base: Value | None, attr: str, node: ast.AST) -> Value | None:
        """``base.attr``; reading a project ``@property`` runs it, so that is a call."""
        if isinstance(base, Ref):
            return self.analyzer.deref(f"{base.name}.{attr}")
        if not isinstance(base, Instance):
            return None
        owner = self._project_class(base.type)
        if owner is None:
            attribute_type = catalog.ATTRIBUTE_TYPES.get((base.type, attr))
            if attribute_type is not None:
                return Instance(attribute_type)
            return BoundMethod(base.type, attr)
        method = self.index.method(owner, attr)
        if method is not None:
            if self.analyzer.decorators(method) & {
                "builtins.property",
                "functools.cached_property",
            }:
                self.call_event(node, method)
                return self.analyzer.returns(method, early=self.early)
            return FunctionValue(method)
        return None if self.early else self.analyzer.attribute(owner, attr)

    def call(self, node: ast.Call) -> Value | None:
        """Walk a call: the callee, then the arguments; record what may block."""
        callee = self.expr(node.func)
        arguments = [self.expr(argument) for argument in node.args]
        keywords = {
            keyword.arg: self.expr(keyword.value) for keyword in node.keywords if keyword.arg
        }
        for keyword in node.keywords:
            if keyword.arg is None:
                self.expr(keyword.value)
        if isinstance(callee, FunctionValue):
            self.call_event(node, callee.function)
            slot = self._project_thread_method(callee.function)
            if slot is not None:
                self.hand_off(node, *_argument(slot, node, arguments, keywords))
            if not self.early:
                self._through_wrapper(node, callee.function, arguments, keywords)
            return self.analyzer.returns(callee.function, early=self.early)
        if isinstance(callee, Ref):
            return self._call_named(node, callee.name, arguments, keywords)
        if isinstance(callee, BoundMethod):
            category = catalog.BLOCKING_METHODS.get((callee.type, callee.name))
            if category is not None:
                self.blocking(node, category, f"{callee.type}.{callee.name}")
            slot = catalog.THREAD_METHODS.get((callee.type, callee.name))
            if slot is not None:
                handed = self.hand_off(node, *_argument(slot, node, arguments, keywords))
                if callee.name == "run_in_executor":
                    return self.result_of(handed)
            returned = catalog.METHOD_RETURNS.get((callee.type, callee.name))
            return Instance(returned) if returned else None
        if isinstance(callee, Instance):
            owner = self._project_class(callee.type)
            return self._dunder(node, owner, "__call__") if owner else None
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in catalog.THREAD_METHOD_NAMES:
            slot = catalog.THREAD_METHOD_NAMES[func.attr]
            return self.result_of(self.hand_off(node, *_argument(slot, node, arguments, keywords)))
        return None

    def _through_wrapper(
        self,
        node: ast.Call,
        function: FunctionInfo,
        arguments: list[Value | None],
        keywords: dict[str, Value | None],
    ) -> None:
        """Arguments of a project function that hands them to a thread run in a thread."""
        wanted = self.analyzer.facts(function).thread_params
        if not wanted:
            return
        signature = function.node.args
        names = [argument.arg for argument in [*signature.posonlyargs, *signature.args]]
        decorators = self.analyzer.decorators(function)
        if function.owner is not None and "builtins.staticmethod" not in decorators:
            names = names[1:]  # called bound: ``self`` or ``cls`` is not in the call
        for name, value, argument in zip(names, arguments, node.args, strict=False):
            if isinstance(argument, ast.Starred):
                break  # the positions after it are unknown
            if name in wanted:
                self.hand_off(node, value, argument)
        for keyword in node.keywords:
            if keyword.arg in wanted:
                self.hand_off(node, keywords[keyword.arg], keyword.value)

    def _lambda(self, node: ast.Lambda) -> Value | None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.expr(default)
        if self.function is None or self.early:
            return None
        info = lambda_function(node, self.function)
        self.analyzer.set_closure(info, dict(self.env))
        self.nested.append(info)
        return FunctionValue(info)

    def _project_thread_method(self, method: FunctionInfo) -> catalog.ArgumentSlot | None:
        """The slot of the callable when ``method`` is ``loopsafe.Database.read``/``write``
        linted as project code (loopsafe itself)."""
        owner = method.owner
        if owner is None:
            return None
        for (type_name, name), slot in catalog.THREAD_METHODS.items():
            if name == method.node.name and owner is self._project_class(type_name):
                return slot
        return None

    def _call_named(
        self,
        node: ast.Call,
        name: str,
        arguments: list[Value | None],
        keywords: dict[str, Value | None],
    ) -> Value | None:
        owner = self._project_class(name)
        if owner is not None:
            self._dunder(node, owner, "__init__")
            return Instance(owner.qualname)
        category = catalog.BLOCKING_CALLS.get(name)
        if category is not None:
            self.blocking(node, category, name)
        if name in CONSUMERS and arguments:
            self.iterate(arguments[0], node, is_async=False)
        if name in catalog.THREAD_RUNNERS:
            slot = catalog.THREAD_RUNNERS[name]
            return self.result_of(self.hand_off(node, *_argument(slot, node, arguments, keywords)))
        if name == "builtins.super" and not node.args:
            return self._super()
        if name == "functools.partial":
            return arguments[0] if arguments else None
        if name == "contextlib.closing":
            return Managed(arguments[0] if arguments else None)
        returned = catalog.CALL_RETURNS.get(name)
        return Instance(returned) if returned else None

    def _super(self) -> Value | None:
        owner = self.function.owner if self.function is not None else None
        bases = self.index.bases(owner) if owner is not None else []
        return Instance(bases[0].qualname) if bases else None

    def result_of(self, callable_value: Value | None) -> Value | None:
        """What calling ``callable_value`` (run in a thread) would return."""
        if isinstance(callable_value, FunctionValue):
            return self.analyzer.returns(callable_value.function, early=self.early)
        if isinstance(callable_value, Ref):
            if self._project_class(callable_value.name) is not None:
                return Instance(callable_value.name)
            returned = catalog.CALL_RETURNS.get(callable_value.name)
            return Instance(returned) if returned else None
        if isinstance(callable_value, BoundMethod):
            returned = catalog.METHOD_RETURNS.get((callable_value.type, callable_value.name))
            return Instance(returned) if returned else None
        return None

    def iterate(self, value: Value | None, node: ast.AST, *, is_async: bool) -> None:
        """Iterating a cursor, a file or an HTTP response reads from it."""
        if is_async or not isinstance(value, Instance):
            return
        category = catalog.ITERATION_BLOCKS.get(value.type)
        if category is not None:
            self.blocking(node, category, f"{value.type}.__iter__")

    def annotation(self, node: ast.expr | None) -> Value | None:
        """The instance type an annotation promises, if it is one the analysis tracks."""
        if node is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                return self.annotation(ast.parse(node.value, mode="eval").body)
            except SyntaxError:
                return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self.annotation(node.left) or self.annotation(node.right)
        if isinstance(node, ast.Subscript):
            wrapper = self.expr(node.value)
            if isinstance(wrapper, Ref) and wrapper.name in OPTIONAL_WRAPPERS:
                inner = node.slice
                options = inner.elts if isinstance(inner, ast.Tuple) else [inner]
                return _first([self.annotation(option) for option in options])
            # ``asyncio.Future[int]``, ``typing.IO[str]``: the parameters do not matter.
            return self.annotation(node.value)
        if isinstance(node, ast.Name | ast.Attribute):
            named = self.expr(node)
            if isinstance(named, Ref):
                if named.name in catalog.ANNOTATION_TYPES:
                    return Instance(catalog.ANNOTATION_TYPES[named.name])
                if self._project_class(named.name) is not None:
                    return Instance(named.name)
        return None

    # -- events -------------------------------------------------------------------------

    def blocking(self, node: ast.AST, category: Category, name: str) -> None:
        """Record a library call of ``category`` at ``node``.

        A call that is awaited cannot be the sync API it looks like (``sqlite3`` returns
        no awaitables), so the inferred type was wrong: no event. Nor for a call the code
        decides to run in a thread in the other branch of an ``if`` (see ``_threads``).
        """
        if id(node) in self._awaited or id(node) in self._decided:
            return
        line, col = _position(node)
        self.events.append(Event(line, col, category=category, name=name))

    def hand_off(
        self, node: ast.AST, handed: Value | None, argument: ast.expr | None
    ) -> Value | None:
        """Record that ``handed`` (the expression ``argument``) is called in a worker thread,
        from the call at ``node``; returns ``handed``.

        A parameter handed over makes this function a wrapper: its callers' arguments for
        that parameter run in the thread.
        """
        param = self._param_in(argument)
        if param is not None:
            self.thread_params.add(param)
        line, col = _position(node)
        if isinstance(handed, FunctionValue):
            if not handed.function.is_async:
                self.events.append(Event(line, col, entry=handed.function))
            return handed
        if isinstance(handed, BoundMethod):
            name = f"{handed.type}.{handed.name}"
            category = catalog.BLOCKING_METHODS.get((handed.type, handed.name))
        elif isinstance(handed, Ref):
            name, category = handed.name, catalog.BLOCKING_CALLS.get(handed.name)
        else:
            return handed
        if category is Category.LOOP_ONLY:
            self.events.append(Event(line, col, category=category, name=name, handed=True))
        return handed

    def _param_in(self, node: ast.expr | None) -> str | None:
        """The parameter whose argument ``node`` calls: ``fn`` or ``partial(fn, ...)``."""
        if isinstance(node, ast.Call) and node.args and ast.unparse(node.func).endswith("partial"):
            node = node.args[0]
        return self._params.get(node.id) if isinstance(node, ast.Name) else None

    def call_event(self, node: ast.AST, function: FunctionInfo) -> None:
        """Record a call into the project at ``node``."""
        line, col = _position(node)
        self.events.append(Event(line, col, callee=function))

    def _project_class(self, name: str) -> ClassInfo | None:
        symbol = self.index.lookup(name)
        return symbol if isinstance(symbol, ClassInfo) else None


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1


def _argument(
    slot: catalog.ArgumentSlot,
    node: ast.Call,
    arguments: list[Value | None],
    keywords: dict[str, Value | None],
) -> tuple[Value | None, ast.expr | None]:
    """The value and the expression of the argument in ``slot`` of the call ``node``."""
    position, keyword = slot
    if len(arguments) > position:
        return arguments[position], node.args[position]
    for item in node.keywords:
        if keyword is not None and item.arg == keyword:
            return keywords.get(keyword), item.value
    return None, None


def _first(values: list[Value | None]) -> Value | None:
    return next((value for value in values if value is not None), None)
