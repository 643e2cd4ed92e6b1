"""Benchmarks: `python -m loopsafe.bench engine|http`."""
