"""The HTTP benchmark: unrelated-route tail latency under SQLite load, five ways.

``python -m benchmarks.http --help``; see ``docs/bench-http.md``.
"""
