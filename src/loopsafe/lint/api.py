"""The programmatic entry points: lint paths, get findings."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from loopsafe.lint._analyze import Analyzer
from loopsafe.lint._callgraph import Summary, summarize
from loopsafe.lint._index import FunctionInfo, ProjectIndex
from loopsafe.lint._noqa import Suppressions, is_suppressed, parse_noqa
from loopsafe.lint._values import Event
from loopsafe.lint.findings import Finding, Hop, ParseError, Report
from loopsafe.lint.rules import Category, code_matches, rule_for

DEFAULT_MAX_DEPTH = 6
"""Most functions followed between an async def and the blocking call (the async def
itself not counted)."""


def lint_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    allow: Iterable[str] = (),
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> list[Finding]:
    """What the rules find in the Python files under ``paths``: blocking calls inside
    ``async def`` functions, loop-only asyncio calls in code handed to worker threads,
    ``get_event_loop()`` in coroutines.

    Files that cannot be parsed are skipped (see :func:`check_paths` to get them); a path
    that does not exist raises ``FileNotFoundError``. ``pyproject.toml`` is not read here.
    """
    return check_paths(
        paths, allow=allow, select=select, ignore=ignore, max_depth=max_depth
    ).findings


def check_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    allow: Iterable[str] = (),
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Report:
    """Like :func:`lint_paths`, and also report the files that could not be parsed.

    ``allow`` names calls to accept: a qualified project function (``app.cache.warm``),
    an async def to skip, or a library call (``sqlite3.connect``); a module or package name
    allows everything in it. ``select``/``ignore`` take codes or code prefixes (``LS1``).
    """
    index = ProjectIndex.build(Path(path) for path in paths)
    analyzer = Analyzer(index)
    allowed = _allow_matcher(tuple(allow))
    functions = list(analyzer.all_functions())
    summaries = summarize(functions, analyzer.facts, allowed=allowed, max_depth=max_depth)
    selected = None if select is None else tuple(select)
    ignored = tuple(ignore)
    noqa: dict[Path, Suppressions] = {}
    findings: dict[tuple[str, int, int, str], Finding] = {}
    for function in functions:
        if not function.module.reported or allowed(function.qualname):
            continue
        path = function.module.path
        events = analyzer.facts(function).events
        if analyzer.is_thread_body(function):
            # ``Thread.start()`` hands ``run`` to the new thread: the def line is the hand-off.
            line, col = function.node.lineno, function.node.col_offset + 1
            events = [*events, Event(line, col, entry=function)]
        for event in events:
            found = _findings(function, event, summaries, allowed) if function.is_async else []
            found += _thread_findings(function, event, summaries, allowed)
            for finding in found:
                if selected is not None and not code_matches(finding.code, selected):
                    continue
                if code_matches(finding.code, ignored):
                    continue
                if path not in noqa:
                    noqa[path] = parse_noqa(path)
                suppressions = noqa[path]
                if is_suppressed(suppressions, finding.line, finding.code):
                    continue
                findings.setdefault(
                    (finding.path, finding.line, finding.col, finding.code), finding
                )
    ordered = sorted(findings.values(), key=lambda f: (f.path, f.line, f.col, f.code))
    errors = [
        ParseError(display_path(Path(error.path)), error.line, error.col, error.message)
        for error in index.errors
    ]
    return Report(ordered, errors)


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _allow_matcher(allow: tuple[str, ...]) -> Callable[[str], bool]:
    def allowed(name: str) -> bool:
        names = (name, name.removeprefix("builtins."))
        return any(n == entry or n.startswith(f"{entry}.") for n in names for entry in allow)

    return allowed


def _findings(
    function: FunctionInfo,
    event: Event,
    summaries: dict[FunctionInfo, Summary],
    allowed: Callable[[str], bool],
) -> list[Finding]:
    path = display_path(function.module.path)
    start = Hop(function.qualname, path, event.line)
    if event.category is Category.GET_EVENT_LOOP:
        rule = rule_for(event.category, indirect=False)
        message = f"`asyncio.get_event_loop()` in async def `{function.local_name}`"
        chain: tuple[Hop, ...] = (start, Hop(event.name))
        return [Finding(path, event.line, event.col, rule.code, message, chain, rule.fix)]
    if event.category is not None:
        if not event.category.blocks or allowed(event.name):
            return []
        rule = rule_for(event.category, indirect=False)
        chain = (start, Hop(event.name))
        message = (
            f"blocking {event.category.value} `{_short(event.name)}` "
            f"in async def `{function.local_name}`"
        )
        return [Finding(path, event.line, event.col, rule.code, message, chain, rule.fix)]
    callee = event.callee
    if callee is None or callee.is_async or allowed(callee.qualname):
        return []
    found = []
    for category, rest in summaries.get(callee, {}).items():
        if not category.blocks:
            continue
        rule = rule_for(category, indirect=True)
        chain = (start, *(_relative(step) for step in rest))
        message = (
            f"blocking {category.value} reached from async def "
            f"`{function.local_name}`: {format_chain(chain, function.local_name)}"
        )
        found.append(Finding(path, event.line, event.col, rule.code, message, chain, rule.fix))
    return found


def _thread_findings(
    function: FunctionInfo,
    event: Event,
    summaries: dict[FunctionInfo, Summary],
    allowed: Callable[[str], bool],
) -> list[Finding]:
    """Loop-only asyncio calls in what ``event`` hands to a worker thread.

    The finding is at the hand-off; its chain runs from there through the function run in
    the thread (a lambda counts as one) and any helpers to the asyncio call.
    """
    path = display_path(function.module.path)
    start = Hop(function.qualname, path, event.line)
    if event.handed:
        if allowed(event.name):
            return []
        chain: tuple[Hop, ...] = (start, Hop(event.name))
        indirect = False
    elif event.entry is not None and not allowed(event.entry.qualname):
        rest = summaries.get(event.entry, {}).get(Category.LOOP_ONLY)
        if rest is None:
            return []
        chain = (start, *(_relative(step) for step in rest))
        # (hand-off, thread function, asyncio call): the thread function made the call.
        indirect = len(chain) > 3
    else:
        return []
    rule = rule_for(Category.LOOP_ONLY, indirect=indirect)
    where = (
        "in the `run()` of a threading.Thread"
        if event.entry is function
        else f"in code run in a thread from `{function.local_name}`"
    )
    message = (
        f"asyncio call that is not thread-safe, {where}: {format_chain(chain, function.local_name)}"
    )
    return [Finding(path, event.line, event.col, rule.code, message, chain, rule.fix)]


def format_chain(chain: tuple[Hop, ...], first: str) -> str:
    """``get_user -> shop.repo.load_user (shop/repo.py:8) -> sqlite3.Connection.execute``.

    The async def at the start is shown as ``first`` (its name inside its module).
    """
    parts = [first]
    for step in chain[1:]:
        if step.path is None:
            parts.append(_short(step.name))
        else:
            parts.append(f"{step.name} ({step.path}:{step.line})")
    return " -> ".join(parts)


def _relative(step: Hop) -> Hop:
    return step if step.path is None else Hop(step.name, display_path(Path(step.path)), step.line)


def _short(name: str) -> str:
    return name.removeprefix("builtins.")
