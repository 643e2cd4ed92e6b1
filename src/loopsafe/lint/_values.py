"""Inference-lite: the little the analysis knows about what an expression evaluates to."""

from __future__ import annotations

from dataclasses import dataclass

from loopsafe.lint._index import FunctionInfo
from loopsafe.lint.rules import Category


@dataclass(frozen=True)
class Instance:
    """An object of a tracked library type (``sqlite3.Connection``) or of a project class."""

    type: str


@dataclass(frozen=True)
class Ref:
    """A named module, function or class by its qualified name (``sqlite3.connect``)."""

    name: str


@dataclass(frozen=True)
class BoundMethod:
    """``obj.name`` where ``obj`` is an :class:`Instance` of a library type."""

    type: str
    name: str


@dataclass(frozen=True)
class FunctionValue:
    """A project function, method or nested function."""

    function: FunctionInfo


@dataclass(frozen=True)
class Managed:
    """What a ``@contextmanager`` function returns: ``with`` binds ``inner``, exits nothing."""

    inner: Value | None


Value = Instance | Ref | BoundMethod | FunctionValue | Managed


@dataclass(frozen=True)
class Event:
    """Something a function body does at ``line:col`` that a rule may be about.

    One of: a library call a rule names (``category`` and ``name`` set); a call to a
    project function (``callee`` set) whose own body decides; a project function handed
    to a worker thread (``entry`` set: its body runs off the loop); or a library callable
    handed straight to a worker thread (``handed`` true, ``name`` and ``category`` say
    which).
    """

    line: int
    col: int
    category: Category | None = None
    name: str = ""
    callee: FunctionInfo | None = None
    entry: FunctionInfo | None = None
    handed: bool = False


@dataclass
class Facts:
    """What one walk of a function body found."""

    events: list[Event]
    returns: Value | None
    nested: list[FunctionInfo]
    self_attrs: dict[str, Value]
    # Parameters whose argument the function hands to a worker thread (``def
    # offload(fn): return asyncio.to_thread(fn)``): its callers' arguments run there.
    thread_params: frozenset[str] = frozenset()
