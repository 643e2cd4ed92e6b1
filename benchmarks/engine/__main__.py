"""``python -m benchmarks.engine [options]``: the engine benchmark (``make bench-engine``)."""

from __future__ import annotations

import sys

from benchmarks.engine import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
