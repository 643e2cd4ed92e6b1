"""A real `loopsafe serve` process on loopback, and Standard Webhooks deliveries for it."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks import Webhook

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
TOKEN = "admin-token-0123456789abcdef"
START_BOUND = 30.0
STOP_BOUND = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def signed(
    body: bytes,
    msg_id: str,
    *,
    secret: str = SECRET,
    when: datetime | None = None,
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed by the reference package."""
    when = when or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
        "content-type": "application/json",
    }


def poll(check: Callable[[], bool], bound: float = 10.0, what: str = "condition") -> None:
    """Call ``check`` until it is true; fail after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {bound} s")
        time.sleep(0.02)


@dataclass
class Server:
    """One `loopsafe serve` process; ``start``/``stop``/``kill`` may be repeated."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)

    def start(self) -> Server:
        assert self.proc is None, "already running"
        self.port = free_port()
        env = {
            **os.environ,
            "LOOPSAFE_DATA_DIR": str(self.data_dir),
            "LOOPSAFE_WEBHOOK_SECRETS": json.dumps({"github": SECRET}),
            "LOOPSAFE_ADMIN_TOKEN": TOKEN,
            "LOOPSAFE_GRACE_PERIOD": "3",
            **self.env,
        }
        env = {k: v for k, v in env.items() if v != ""}  # "" unsets a variable
        self.runs += 1
        self.log_path = self.data_dir.parent / f"server-{self.runs}.log"
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "loopsafe", "serve", "--port", str(self.port), *self.args],
                cwd=ROOT,  # so a handler in `tests.service` can be imported
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        proc = self.proc

        def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{self.log()}")
            try:
                return httpx.get(self.url + "/health", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        poll(healthy, START_BOUND, "/health")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` to the server's pid; kill it if it has not exited within a bound.
        Returns its exit code."""
        proc = self.proc
        if proc is None:
            return 0
        self.proc = None
        if proc.poll() is None:
            os.kill(proc.pid, sig)
        try:
            return proc.wait(STOP_BOUND)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(STOP_BOUND)
            raise AssertionError(f"server did not stop on signal {sig}:\n{self.log()}") from None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        logs = sorted(self.data_dir.parent.glob("server-*.log"))
        return "".join(p.read_text(errors="replace") for p in logs)

    def deliveries(self, source: str = "github") -> list[dict[str, Any]]:
        """Every delivery of ``source``, newest first, following the cursor."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        with self.client() as c:
            while True:
                params: dict[str, Any] = {"limit": 1000}
                if cursor:
                    params["cursor"] = cursor
                page = c.get(f"/webhooks/{source}/deliveries", params=params).json()
                items += page["items"]
                cursor = page["next"]
                if cursor is None:
                    return items
