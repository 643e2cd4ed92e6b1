"""The HTTP benchmark: unrelated-route tail latency under SQLite load, five ways.

``python -m loopsafe.bench http --help``; see ``docs/bench-http.md``.
"""
