"""Benchmarks: `python -m benchmarks engine|http`."""
