"""Stopping a server process a test started: SIGTERM (its graceful stop), then SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop ``proc`` unless it already ended: SIGTERM, and SIGKILL past ``grace`` seconds."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
