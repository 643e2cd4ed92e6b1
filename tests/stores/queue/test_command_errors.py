"""`loopsafe worker` reports a store it can't open in one line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_queue_file_that_cannot_be_opened_is_one_clear_line(tmp_path: Path) -> None:
    module = tmp_path / "brokenjobs.py"
    module.write_text(
        "import loopsafe\nqueue = loopsafe.Queue('no/such/dir/jobs.db')\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "loopsafe", "worker", "brokenjobs:queue"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("loopsafe worker: directory does not exist"), done.stderr
    assert "Traceback" not in done.stderr
