"""Restarts, crashes, several processes, graceful shutdown: a real server, killed by pid."""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter

import httpx

from tests.service.conftest import MakeServer
from tests.service.server import TOKEN, Server, poll, signed

BODY = b'{"event": "push"}'
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
# uvicorn re-raises the signal it shut down on once it has shut down cleanly.
CLEAN_EXIT = (0, -signal.SIGTERM)


def all_processed(server: Server, ids: set[str]) -> bool:
    items = server.deliveries()
    return {i["id"] for i in items} >= ids and all(
        i["state"] == "processed" for i in items if i["id"] in ids
    )


def test_data_survives_a_restart(server: Server) -> None:
    with server.client() as c:
        assert c.post("/webhooks/github", content=BODY, headers=signed(BODY, "m1")).is_success
        assert c.put("/cache/k", json=[1], headers=ADMIN).status_code == 204
        assert c.put("/flags/f", json={"enabled": True}, headers=ADMIN).status_code == 200
    poll(lambda: all_processed(server, {"m1"}), what="processed")
    assert server.stop() in CLEAN_EXIT
    server.start()
    with server.client() as c:
        assert c.get("/cache/k").json() == [1]
        assert c.get("/flags/f").json()["enabled"] is True
        assert [d["id"] for d in server.deliveries()] == ["m1"]
        again = c.post("/webhooks/github", content=BODY, headers=signed(BODY, "m1"))
        assert again.status_code == 200  # still known after the restart: not stored twice
    assert len(server.deliveries()) == 1


def test_two_worker_processes_share_the_files(make_server: MakeServer) -> None:
    server = make_server(args=["--workers", "2"]).start()
    ids = {f"w{i}" for i in range(60)}
    for msg_id in sorted(ids):
        # A new connection each time, so the kernel spreads them over both processes.
        r = httpx.post(server.url + "/webhooks/github", content=BODY, headers=signed(BODY, msg_id))
        assert r.status_code == 202, r.text
    poll(lambda: all_processed(server, ids), 20, "all processed")
    assert Counter(d["id"] for d in server.deliveries()) == Counter(ids)
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    ready = {e["pid"] for e in lines if e["message"] == "service ready"}
    assert len(ready) == 2, "two server processes, each with its stores and worker"
    accepted = Counter(e["pid"] for e in lines if e["message"] == "POST /webhooks/github 202")
    assert sum(accepted.values()) == len(ids)
    # Both processes accept on the one socket; 60 new connections reach both (about 30 each
    # here) unless one process is starved of the CPU for the whole stream.
    assert len(accepted) == 2, dict(accepted)

    def jobs() -> list[dict[str, object]]:
        with server.client() as c:
            items: list[dict[str, object]] = c.get("/jobs", params={"limit": 1000}).json()["items"]
            return items

    # A delivery is marked processed inside its job, just before the job completes.
    poll(lambda: all(j["state"] == "succeeded" for j in jobs()), what="every job succeeded")
    assert len(jobs()) == len(ids)
    assert all(j["attempts"] == 1 for j in jobs())


def test_kill_9_in_a_stream_loses_no_acknowledged_delivery(make_server: MakeServer) -> None:
    # A short lease, so the jobs the killed process held are recovered soon after restart.
    server = make_server(env={"LOOPSAFE_JOB_LEASE": "2"}).start()
    acknowledged: list[str] = []
    stop = threading.Event()
    started = threading.Event()

    def stream() -> None:
        n = 0
        with httpx.Client(timeout=5.0) as c:
            while not stop.is_set() and n < 5000:
                msg_id = f"c{n}"
                n += 1
                try:
                    r = c.post(
                        server.url + "/webhooks/github",
                        content=BODY,
                        headers=signed(BODY, msg_id),
                    )
                except httpx.HTTPError:
                    continue  # the server is down: this one was never acknowledged
                if r.is_success:
                    acknowledged.append(msg_id)
                    if len(acknowledged) >= 50:
                        started.set()

    sender = threading.Thread(target=stream)
    sender.start()
    try:
        assert started.wait(30), "the stream did not get going"
        server.kill()  # SIGKILL by pid, in the middle of the stream
        stop.set()
    finally:
        stop.set()
        sender.join(30)
    server.start()
    ids = set(acknowledged)
    assert len(ids) >= 50
    poll(lambda: all_processed(server, ids), 30, "every acknowledged delivery processed")
    counts = Counter(d["id"] for d in server.deliveries())
    assert all(counts[i] == 1 for i in ids)
    job_ids = {d["job_id"] for d in server.deliveries() if d["id"] in ids}
    assert len(job_ids) == len(ids)  # one job per delivery

    def jobs_succeeded() -> bool:
        # A delivery is marked processed inside its job, just before the job completes.
        with server.client() as c:
            return all(c.get(f"/jobs/{j}").json()["state"] == "succeeded" for j in job_ids)

    poll(jobs_succeeded, 30, "every job succeeded")


def test_sigterm_during_a_slow_job_exits_in_the_grace_and_hands_the_job_back(
    make_server: MakeServer,
) -> None:
    server = make_server(
        env={
            "LOOPSAFE_WEBHOOK_HANDLER": "tests.service.handlers:slow",
            "LOOPSAFE_GRACE_PERIOD": "1",
        }
    ).start()
    with server.client() as c:
        job_id = c.post("/webhooks/github", content=BODY, headers=signed(BODY, "slow1")).json()[
            "job_id"
        ]
    poll(lambda: (server.data_dir / "started-slow1").exists(), what="the job to start")
    # stop() kills and fails if the process outlives its bound (grace + uvicorn's margin).
    assert server.stop(signal.SIGTERM) in CLEAN_EXIT
    server.env["LOOPSAFE_WORKER"] = "false"  # look at the job without running it again
    server.start()
    with server.client() as c:
        job = c.get(f"/jobs/{job_id}").json()
    assert job["state"] == "queued", job
    assert job["attempts"] < job["max_attempts"]
    assert job["attempts"] == 0, "handing a job back must not use an attempt"
