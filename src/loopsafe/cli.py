"""The ``loopsafe`` command: one entry point, each sub-command delegating to its part.

``loopsafe serve`` (the reference service), ``loopsafe worker MODULE:ATTRIBUTE`` (a queue's
jobs), ``loopsafe migrate TARGET`` (the stores' schema migrations), ``loopsafe sign``
(Standard Webhooks headers for curl), ``loopsafe lint PATH...``, ``loopsafe demo``.
"""

from __future__ import annotations

import importlib
import sys

# Imported only when chosen: `loopsafe lint` must not pay for FastAPI, nor `serve` for the lint.
_COMMANDS = {
    "serve": "loopsafe.service.serve",
    "worker": "loopsafe.stores.queue._command",
    "migrate": "loopsafe.stores._migrate",
    "sign": "loopsafe.service.sign",
    "lint": "loopsafe.lint.cli",
    "demo": "loopsafe.demo",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(f"usage: loopsafe {{{','.join(_COMMANDS)}}} ...")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    module = _COMMANDS.get(command)
    if module is None:
        expected = ", ".join(_COMMANDS)
        print(f"loopsafe: unknown command {command!r} (expected {expected})", file=sys.stderr)
        return 2
    run: object = importlib.import_module(module).main
    assert callable(run)
    return int(run(rest))
