"""Configuration and report files read with open() and pathlib."""
