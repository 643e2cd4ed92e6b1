"""Sync subprocess helpers: every function here blocks."""

import os
import subprocess


def run(cmd: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, check=True, capture_output=True)


def git_rev() -> str:
    return subprocess.check_output(["git", "rev-parse", "HEAD"]).decode()


def spawn_and_wait(cmd: list[str]) -> int:
    proc = subprocess.Popen(cmd)
    proc.wait()
    return proc.returncode


def shell(cmd: str) -> int:
    return os.system(cmd)
