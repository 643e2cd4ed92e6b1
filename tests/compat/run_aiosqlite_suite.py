"""Run aiosqlite's own test suite, from the installed aiosqlite package, against
``loopsafe.compat.aiosqlite``.

The suite's ``import aiosqlite`` is answered by the adapter (an import alias); its files are
loaded from where pip installed them, never copied. ``python -m
tests.compat.run_aiosqlite_suite [--json]``; the last line of ``--json`` output is the
outcome of every test.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import types
import unittest
from typing import Any

# Tests that exercise what the adapter deliberately does differently, each with why.
DESELECTED = {
    "test_connect_base_exception": (
        "builds aiosqlite.Connection from a connector function and reads its private "
        "`_running` thread flag: a loopsafe Connection has no thread of its own"
    ),
    "test_multi_loop_usage": (
        "uses one connection from four event loops in four threads: a loopsafe Database "
        "belongs to the event loop that opened it (WrongLoopError elsewhere)"
    ),
    "test_close_blocking_until_transaction_queue_empty": (
        "reads aiosqlite's private request queue `_tx`: the adapter has none"
    ),
    "test_set_progress_handler": (
        "the progress handler is loopsafe's (it enforces deadlines and cancellation): "
        "set_progress_handler raises NotSupportedError"
    ),
}


def load_suite() -> tuple[unittest.TestSuite, list[str]]:
    """The suite's tests minus DESELECTED, and the names of all its tests."""
    spec = importlib.util.find_spec("aiosqlite")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("aiosqlite is not installed")
    tests_dir = os.path.join(next(iter(spec.submodule_search_locations)), "tests")
    import loopsafe.compat.aiosqlite as adapter

    sys.modules["aiosqlite"] = adapter
    package = types.ModuleType("aiosqlite_suite")
    package.__path__ = [tests_dir]
    sys.modules["aiosqlite_suite"] = package
    smoke = importlib.import_module("aiosqlite_suite.smoke")
    loaded = unittest.defaultTestLoader.loadTestsFromModule(smoke)
    tests = list(_flatten(loaded))
    names = [test.id().rsplit(".", 1)[-1] for test in tests]
    kept = [t for t, name in zip(tests, names, strict=True) if name not in DESELECTED]
    return unittest.TestSuite(kept), names


def _flatten(suite: unittest.TestSuite) -> Any:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item


def main() -> int:
    suite, names = load_suite()
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)

    def short(test: Any) -> str:
        return str(test.id()).rsplit(".", 1)[-1]

    failed = {short(t): text for t, text in result.failures + result.errors}
    skipped = {short(t): reason for t, reason in result.skipped}
    ran = [n for n in names if n not in DESELECTED]
    outcome = {
        "all": names,
        "passed": [n for n in ran if n not in failed and n not in skipped],
        "failed": failed,
        "skipped": skipped,
        "deselected": DESELECTED,
    }
    if "--json" in sys.argv:
        print(json.dumps(outcome))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
