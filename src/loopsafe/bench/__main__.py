"""``python -m loopsafe.bench {http,engine} [options]``."""

from __future__ import annotations

import importlib
import sys

USAGE = """usage: python -m loopsafe.bench {http,engine} [options]

  http    unrelated-route tail latency under SQLite load, five ways (make bench)
  engine  the engine's own throughput and latency (make bench-engine)

Each takes --help."""


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a benchmark; each is imported only when asked for."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "http":
        from loopsafe.bench.http.harness import main as http_main

        return http_main(rest)
    if command == "engine":
        try:
            engine = importlib.import_module("loopsafe.bench.engine")
        except ModuleNotFoundError as exc:
            if exc.name != "loopsafe.bench.engine":
                raise
            print("loopsafe.bench: the engine benchmark is not available yet", file=sys.stderr)
            return 2
        return int(engine.main(rest))
    print(f"loopsafe.bench: unknown benchmark {command!r} (http or engine)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
