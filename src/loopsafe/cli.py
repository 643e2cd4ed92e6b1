"""The ``loopsafe`` command: ``loopsafe demo``, ``loopsafe lint PATH...``,
``loopsafe worker MODULE:ATTRIBUTE``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print("usage: loopsafe {demo,lint,worker} ...")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "lint":
        from loopsafe.lint.cli import main as lint_main

        return lint_main(rest)
    if command == "worker":
        from loopsafe.stores.queue._command import main as worker_main

        return worker_main(rest)
    if command == "demo":
        from loopsafe.demo import main as demo_main

        return demo_main(rest)
    print(f"loopsafe: unknown command {command!r} (expected demo, lint or worker)", file=sys.stderr)
    return 2
