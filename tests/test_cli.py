"""The `loopsafe` command and the demo that `make run` shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from loopsafe.cli import main


def test_demo_runs_both_ways_and_reports_lag(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "loopsafe",
            "demo",
            "--db",
            str(tmp_path / "d.db"),
            "--seconds",
            "0.3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = {
        line.split()[0] + " " + line.split()[1]: line.split()[2:]
        for line in proc.stdout.splitlines()
        if line.startswith("lag")
    }
    assert set(lines) == {"lag p99", "lag max"}
    assert "sqlite3 on the loop" in proc.stdout


def test_unknown_command_is_a_usage_error(capsys: object) -> None:
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    assert main(["--help"]) == 0
