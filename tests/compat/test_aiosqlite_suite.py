"""aiosqlite's own test suite, from its installed package, passes against the adapter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.compat.run_aiosqlite_suite import DESELECTED

ROOT = Path(__file__).resolve().parents[2]


def test_aiosqlite_suite_passes_against_the_adapter() -> None:
    # Its own process: the suite's `import aiosqlite` is aliased to the adapter there only.
    done = subprocess.run(
        [sys.executable, "-m", "tests.compat.run_aiosqlite_suite", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.stdout.strip(), done.stderr[-4000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["failed"] == {}, "\n".join(outcome["failed"].values())
    assert done.returncode == 0
    # Every test of the suite is accounted for: run, or deselected with its reason.
    assert set(DESELECTED) <= set(outcome["all"])
    ran = set(outcome["passed"]) | set(outcome["skipped"])
    assert ran | set(DESELECTED) == set(outcome["all"])
    # Only the suite's own skip, when this Python can't load extensions.
    assert set(outcome["skipped"]) <= {"test_enable_load_extension"}
    assert len(outcome["passed"]) >= 25
