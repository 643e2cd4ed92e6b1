"""Code that runs in a worker thread: lambdas as functions, and calls the code decides where to run.

Two things the walker needs to see thread-side code as such:

- A ``lambda`` handed to ``asyncio.to_thread`` (or stored and called later) has a body that
  runs when it is called; :func:`lambda_function` turns it into a one-statement function
  the analysis walks like any other.
- ``if in_memory: f.read() else: await run_in_threadpool(f.read)`` is the code deciding,
  at run time, when the call is cheap enough for the loop (starlette's ``UploadFile`` does
  this for its ``SpooledTemporaryFile``). :func:`decided_calls` finds such direct calls so
  that they are not reported: the code has shown it knows the call can block.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence

from loopsafe.lint import _catalog as catalog
from loopsafe.lint._index import FunctionInfo

LAMBDA = "<lambda>"

# ``Thread(target=...)`` never runs the same call directly in the other branch, and names
# as common as ``read`` would make unrelated calls look decided.
_NOT_DECIDING = frozenset({"Thread", "Timer", "read", "write", "map"})

# Where the callable sits in a call that hands it to a thread, by the called name's last part.
_HAND_OFF_POSITIONS: dict[str, int] = {
    name: position
    for name, position in [
        *((name.rsplit(".", 1)[-1], slot[0]) for name, slot in catalog.THREAD_RUNNERS.items()),
        *((name, slot[0]) for (_, name), slot in catalog.THREAD_METHODS.items()),
    ]
    if name not in _NOT_DECIDING
}

_EXITS = ast.Return | ast.Raise | ast.Continue | ast.Break


def lambda_function(node: ast.Lambda, parent: FunctionInfo) -> FunctionInfo:
    """A nested function of ``parent`` whose body returns the lambda's expression."""
    body = ast.copy_location(ast.Return(value=node.body), node.body)
    function = ast.copy_location(
        ast.FunctionDef(name=LAMBDA, args=node.args, body=[body], decorator_list=[]), node
    )
    qualname = f"{parent.qualname}.<locals>.{LAMBDA}"
    return FunctionInfo(qualname, parent.module, function, parent=parent)


def decided_calls(node: ast.If | ast.IfExp, rest: Sequence[ast.stmt] = ()) -> set[int]:
    """The ids of the calls made directly in one branch of ``node`` that the other hands to
    a thread (same callee, spelled the same way).

    When an ``if`` body always leaves the block (``return``, ``raise``...), the statements
    after it (``rest``) are its other branch.
    """
    body: list[ast.AST]
    other: list[ast.AST]
    if isinstance(node, ast.IfExp):
        body, other = [node.body], [node.orelse]
    else:
        body, other = list(node.body), list(node.orelse)
        if not other and node.body and isinstance(node.body[-1], _EXITS):
            other = list(rest)
    decided: set[int] = set()
    for direct, offloaded in ((body, other), (other, body)):
        handed = set(_handed_callees(offloaded))
        if handed:
            decided.update(id(call) for call in _calls(direct) if ast.unparse(call.func) in handed)
    return decided


def _calls(nodes: list[ast.AST]) -> Iterator[ast.Call]:
    for node in nodes:
        for child in ast.walk(node):
            if isinstance(child, ast.Call):
                yield child


def _handed_callees(nodes: list[ast.AST]) -> Iterator[str]:
    """How the callables handed to threads in ``nodes`` are spelled (``self.file.read``)."""
    for call in _calls(nodes):
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        position = _HAND_OFF_POSITIONS.get(name) if isinstance(name, str) else None
        if position is not None and len(call.args) > position:
            yield ast.unparse(call.args[position])
