"""``loopsafe lint PATH...``: report blocking calls inside ``async def``, asyncio touched
from worker threads, and ``get_event_loop()`` in coroutines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loopsafe.lint._config import Config, ConfigError, find_config
from loopsafe.lint._output import render_error, render_json, render_text
from loopsafe.lint.api import DEFAULT_MAX_DEPTH, check_paths
from loopsafe.lint.rules import CODES, RULES

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    rules = "\n".join(f"  {rule.code}  {rule.title}" for rule in RULES)
    parser = argparse.ArgumentParser(
        prog="loopsafe lint",
        description="Report blocking calls (sqlite3, file I/O, time.sleep, sync HTTP, "
        "subprocess) inside async def, asyncio calls that are not thread-safe in code run "
        "in a worker thread, also when reached through helper functions, and "
        "asyncio.get_event_loop() in async def.",
        epilog=f"rules:\n{rules}\n\nexit status: 0 clean, 1 findings, 2 usage or parse errors",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="NAME",
        help="accept calls to NAME: a qualified function (app.cache.warm), an async def to "
        "skip, a library call (sqlite3.connect) or a whole module (repeatable)",
    )
    parser.add_argument(
        "--select", action="append", metavar="CODES", help="only these codes or prefixes (LS1,LS3)"
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="CODES",
        help="skip these codes or prefixes",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--max-depth",
        type=int,
        metavar="N",
        help=f"follow at most N helper functions (default {DEFAULT_MAX_DEPTH})",
    )
    parser.add_argument(
        "--isolated", action="store_true", help="ignore [tool.loopsafe.lint] in pyproject.toml"
    )
    return parser


def _codes(values: list[str], parser: argparse.ArgumentParser) -> tuple[str, ...]:
    codes = tuple(code.strip().upper() for value in values for code in value.split(",") if code)
    for code in codes:
        if not any(known.startswith(code) for known in CODES):
            parser.error(f"unknown rule code or prefix: {code!r}")
    return codes


def main(argv: list[str]) -> int:
    """Run the linter; returns the exit status (0 clean, 1 findings, 2 usage/parse errors)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    paths = [Path(path) for path in args.paths]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        for path in missing:
            print(f"loopsafe lint: error: {path}: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = Config() if args.isolated else find_config(paths)
    except ConfigError as problem:
        print(f"loopsafe lint: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        select = _codes(args.select, parser) if args.select else config.select
        ignore = _codes(args.ignore, parser) + config.ignore
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    max_depth = next(
        (depth for depth in (args.max_depth, config.max_depth) if depth is not None),
        DEFAULT_MAX_DEPTH,
    )
    if max_depth < 1:
        print("loopsafe lint: error: --max-depth must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    report = check_paths(
        paths,
        allow=(*config.allow, *args.allow),
        select=select,
        ignore=ignore,
        max_depth=max_depth,
    )
    for parse_error in report.errors:
        print(render_error(parse_error), file=sys.stderr)
    render = render_json if args.format == "json" else render_text
    sys.stdout.write(render(report.findings))
    if report.errors:
        return EXIT_USAGE
    return EXIT_FINDINGS if report.findings else EXIT_CLEAN
