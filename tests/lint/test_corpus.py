"""The corpus: every call marked ``# expect: CODE`` is found, and nothing else is.

A marker ``LS101`` is a direct call; ``LS102(2)`` is reached through two helper
functions. For the thread-side rules the marker is on the hand-off (``to_thread(fn)``), and
``fn`` itself is not counted as a helper. Modules whose docstring starts with ``Clean:``
are look-alikes that must stay silent.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from functools import cache
from pathlib import Path

from loopsafe.lint import Finding, lint_paths
from loopsafe.lint.rules import RULES, Category

CORPUS = Path(__file__).resolve().parent / "corpus"
MARKER = re.compile(r"#\s*expect:\s*(?P<codes>(?:LS\d{3}(?:\(\d+\))?\s*)+)")
CODE = re.compile(r"(?P<code>LS\d{3})(?:\((?P<depth>\d+)\))?")

Key = tuple[str, int, str, int]  # module path, line, code, helper functions crossed


def _modules() -> list[Path]:
    return sorted(CORPUS.rglob("*.py"))


def _relative(path: str | Path) -> str:
    return Path(path).resolve().relative_to(CORPUS).as_posix()


@cache
def expected() -> Counter[Key]:
    """What the markers in the corpus promise."""
    found: Counter[Key] = Counter()
    for module in _modules():
        for number, line in enumerate(module.read_text().splitlines(), start=1):
            marker = MARKER.search(line)
            if marker is None:
                continue
            for match in CODE.finditer(marker.group("codes")):
                depth = int(match.group("depth") or 0)
                found[_relative(module), number, match.group("code"), depth] += 1
    return found


@cache
def findings() -> tuple[Finding, ...]:
    return tuple(lint_paths([CORPUS]))


THREAD_CODES = frozenset(rule.code for rule in RULES if rule.category is Category.LOOP_ONLY)


def helpers_crossed(finding: Finding) -> int:
    """The helper functions between where the finding is and the call it is about.

    A blocking chain is (async def, helper..., call). A thread-side chain is (hand-off,
    function run in the thread, helper..., call), or (hand-off, call) when a library
    callable itself is handed to the thread.
    """
    steps = len(finding.chain) - 2
    return max(steps - 1, 0) if finding.code in THREAD_CODES else steps


def reported() -> Counter[Key]:
    return Counter(
        (_relative(finding.path), finding.line, finding.code, helpers_crossed(finding))
        for finding in findings()
    )


def _clean_modules() -> list[Path]:
    return [
        module
        for module in _modules()
        if (ast.get_docstring(ast.parse(module.read_text())) or "").startswith("Clean:")
    ]


def test_corpus_is_large_and_covers_every_rule_and_depth() -> None:
    modules = [module for module in _modules() if module.name != "__init__.py"]
    assert len(modules) >= 30
    assert len(_clean_modules()) >= 8
    seeded = {(code, depth) for _, _, code, depth in expected()}
    for rule in RULES:
        depths = {1, 2, 3} if rule.indirect else {0}
        for depth in depths:
            assert (rule.code, depth) in seeded, f"corpus seeds no {rule.code} at depth {depth}"


def test_every_seeded_call_is_found_with_its_code_and_depth() -> None:
    missing = expected() - reported()
    assert not missing, "missed:\n" + "\n".join(map(str, sorted(missing.elements())))


def test_nothing_else_is_reported() -> None:
    extra = reported() - expected()
    assert not extra, "unexpected:\n" + "\n".join(map(str, sorted(extra.elements())))


def test_clean_look_alike_modules_are_silent() -> None:
    clean = {_relative(module) for module in _clean_modules()}
    for module in _clean_modules():
        assert "async def" in module.read_text(), f"{module} checks nothing"
    noisy = [finding for finding in findings() if _relative(finding.path) in clean]
    assert noisy == []


def test_chains_point_at_the_calls_they_name() -> None:
    for finding in findings():
        first, *helpers, last = finding.chain
        assert (first.path, first.line) == (finding.path, finding.line)
        assert (last.path, last.line) == (None, None)
        steps = [first, *helpers]
        for step, following in zip(steps, [*helpers, last], strict=True):
            assert step.path is not None
            assert step.line is not None
            line = Path(step.path).read_text().splitlines()[step.line - 1]
            called = following.name.split(".")[-1]
            if called == "<lambda>":
                called = "lambda"
            # Dunders (__init__, __iter__, __exit__) run without their name on the line.
            if not called.startswith("__"):
                names = {called} | _aliases(Path(step.path), called)
                assert any(name in line for name in names), f"{step.path}:{step.line}: {line!r}"


def _aliases(module: Path, name: str) -> set[str]:
    """The names ``name`` is imported under in ``module`` (``from x import name as y``)."""
    return {
        alias.asname
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
        if alias.asname and alias.name.split(".")[-1] == name
    }


def test_fix_text_matches_the_rule() -> None:
    fixes = {rule.code: rule.fix for rule in RULES}
    for finding in findings():
        assert finding.fix == fixes[finding.code]
