"""Tests of ``loopsafe lint``."""
