"""``python -m benchmarks.http [options]``: the HTTP benchmark (``make bench``)."""

from __future__ import annotations

from benchmarks.http.harness import main

if __name__ == "__main__":
    raise SystemExit(main())
