"""The harness's child processes: servers and the load generator, stopped by pid.

Children get their own session (so a Ctrl-C reaches only the harness, which then
stops them in order) and a stdin pipe (so they exit by themselves if the harness
dies without cleaning up).
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from benchmarks.http.loadgen import Job

__all__ = ["Loadgen", "ProcessError", "Processes", "Sampler", "Server", "get"]

# The benchmarks are not installed: children find the `benchmarks` package from the
# repository root, wherever the harness was started from.
_ROOT = str(Path(__file__).resolve().parents[2])


def _child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": _ROOT if not path else _ROOT + os.pathsep + path}


class ProcessError(RuntimeError):
    """A child process failed to start or died."""


@dataclass
class Server:
    """A running benchmark server."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    config: dict[str, Any] = field(default_factory=dict)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's stderr, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Loadgen:
    """The load generator process: one JSON job in, one JSON result out."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        self._stdin: IO[str] = proc.stdin
        self._stdout: IO[str] = proc.stdout

    def run(self, job: Job) -> dict[str, Any]:
        """Run ``job`` and return its result (raises ProcessError if the generator died)."""
        try:
            self._stdin.write(job.to_json() + "\n")
            self._stdin.flush()
        except BrokenPipeError:
            raise ProcessError("the load generator exited") from None
        # A job ends by itself by duration + timeout; far past that the generator is stuck.
        limit = job.duration + job.timeout + 60.0
        if not select.select([self._stdout], [], [], limit)[0]:
            raise ProcessError(f"the load generator gave no result within {limit:.0f} s")
        line = self._stdout.readline()
        if not line:
            raise ProcessError(f"the load generator exited (code {self.proc.poll()})")
        result: dict[str, Any] = json.loads(line)
        if "error" in result:
            raise ProcessError(f"the load generator failed: {result['error']}")
        return result


class Processes:
    """Starts children and stops every one of them, by pid, on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._children: list[subprocess.Popen[Any]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start_loadgen(self) -> Loadgen:
        """Start the load generator."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.http.loadgen"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(self.workdir / "loadgen.log").open("ab"),
            text=True,
            start_new_session=True,
            env=_child_env(),
        )
        self._children.append(proc)
        return Loadgen(proc)

    def start_server(self, mode: str, read: str, db_path: Path, rows: int) -> Server:
        """Start a server for ``mode`` on a free loopback port and wait until it answers."""
        log = self.workdir / f"server-{mode}-{read}.log"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(4096)
            port = sock.getsockname()[1]
            proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "benchmarks.http.server"),
                    *("--mode", mode, "--read", read, "--db", str(db_path)),
                    *("--rows", str(rows), "--fd", str(sock.fileno())),
                ],
                pass_fds=(sock.fileno(),),
                stdin=subprocess.PIPE,
                stdout=log.open("ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=_child_env(),
            )
        self._children.append(proc)
        server = Server(proc, port, log)
        deadline = time.monotonic() + 30.0
        while True:
            if proc.poll() is not None:
                raise ProcessError(f"the {mode} server exited:\n{server.log_tail()}")
            try:
                status, body = get(port, "/config", timeout=1.0)
            except OSError:
                status, body = 0, b""
            if status == 200:
                server.config = json.loads(body)
                return server
            if time.monotonic() > deadline:
                raise ProcessError(f"the {mode} server did not answer:\n{server.log_tail()}")
            time.sleep(0.05)

    def stop(self, proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; always reaped."""
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if proc in self._children:
            self._children.remove(proc)

    def stop_all(self) -> None:
        """Stop every child still known, newest first."""
        for proc in reversed(list(self._children)):
            self.stop(proc)


def get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    """One GET on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Sampler:
    """Samples a process's RSS and CPU time in a thread while a job runs."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self._proc = psutil.Process(pid)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.rss_start = self._rss()
        self.rss_max = self.rss_start
        self.rss_end = self.rss_start
        self._cpu0 = self._cpu()
        self._t0 = time.monotonic()
        self.cpu = 0.0

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.rss_end = self._rss()
        self.rss_max = max(self.rss_max, self.rss_end)
        elapsed = time.monotonic() - self._t0
        self.cpu = (self._cpu() - self._cpu0) / elapsed if elapsed > 0 else 0.0

    def _rss(self) -> int:
        try:
            return int(self._proc.memory_info().rss)
        except psutil.Error:
            return 0

    def _cpu(self) -> float:
        try:
            times = self._proc.cpu_times()
            return float(times.user + times.system)
        except psutil.Error:
            return 0.0

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.rss_max = max(self.rss_max, self._rss())

    def as_dict(self) -> dict[str, float]:
        """RSS in MiB; CPU in cores used on average."""
        mib = 1024 * 1024
        return {
            "rss_start_mb": self.rss_start / mib,
            "rss_max_mb": self.rss_max / mib,
            "rss_end_mb": self.rss_end / mib,
            "cpu": self.cpu,
        }
