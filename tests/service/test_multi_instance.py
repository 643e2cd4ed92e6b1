"""Two service processes on one PostgreSQL database: the queue, deliveries, cache and flags
shared, a real `kill -9` of one of them, and nothing lost."""

from __future__ import annotations

import httpx
import pytest

from tests.service.conftest import MakeServer
from tests.service.server import TOKEN, Server, poll, signed
from tests.service.test_store_urls import shared_url

__all__ = ["shared_url"]  # the fixture, used by name below

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BODY = b'{"event": "push"}'


@pytest.fixture
def pair(make_server: MakeServer, shared_url: str) -> tuple[Server, Server]:
    env = {
        "LOOPSAFE_CACHE_URL": shared_url,
        "LOOPSAFE_FLAGS_URL": shared_url,
        "LOOPSAFE_QUEUE_URL": shared_url,
        "LOOPSAFE_WEBHOOK_HANDLER": "tests.service.handlers:brief",
        # A short lease, so the jobs the killed server held are recovered by the other soon.
        "LOOPSAFE_JOB_LEASE": "2",
    }
    return make_server(env=env).start(), make_server(env=env).start()


def send(server: Server, msg_id: str) -> httpx.Response:
    return httpx.post(
        server.url + "/webhooks/github", content=BODY, headers=signed(BODY, msg_id), timeout=10
    )


def test_two_servers_share_the_queue_and_lose_no_job_when_one_is_killed(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    first = [f"m{n}" for n in range(40)]
    for n, msg_id in enumerate(first):
        r = send((a, b)[n % 2], msg_id)
        assert r.status_code == 202, r.text
    # One deliveries table across hosts: the same id through the other server is a duplicate.
    again = send(b, first[0])
    assert again.status_code == 200
    assert again.json()["duplicate"] is True

    # Kill `a` while it is running a job (its handler has started and takes a second).
    poll(lambda: any(a.data_dir.glob("started-*")), 30, "a job running on a")
    a.kill()
    caught = {p.name.removeprefix("started-") for p in a.data_dir.glob("started-*")}

    later = [f"n{n}" for n in range(20)]
    for msg_id in later:
        assert send(b, msg_id).status_code == 202

    ids = set(first) | set(later)

    def all_processed() -> bool:
        seen = {d["id"]: d["state"] for d in b.deliveries()}
        return all(seen.get(i) == "processed" for i in ids)

    poll(all_processed, 60, "every delivery processed by the server still up")
    deliveries = b.deliveries()
    assert sorted(d["id"] for d in deliveries) == sorted(ids)  # each stored once
    jobs = {d["job_id"] for d in deliveries}
    assert len(jobs) == len(ids)  # one job per delivery

    with b.client() as c:

        def job(job_id: int) -> dict[str, object]:
            found: dict[str, object] = c.get(f"/jobs/{job_id}").json()
            return found

        poll(lambda: all(job(j)["state"] == "succeeded" for j in jobs), 30, "jobs succeeded")
        by_delivery = {d["id"]: job(d["job_id"]) for d in deliveries}
    # What `a` was running when it died was recovered (its lease expired) and run again.
    unfinished_on_a = [i for i in caught if int(str(by_delivery[i]["attempts"])) >= 2]
    assert unfinished_on_a, f"no job a was running ({sorted(caught)}) ran a second time"


def test_a_flag_changed_through_one_server_is_seen_by_the_other(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    with a.client(headers=AUTH) as ca, b.client(headers=AUTH) as cb:
        assert ca.put("/flags/beta", json={"enabled": True}).status_code < 300
        poll(lambda: cb.get("/flags/beta").json()["enabled"] is True, 10, "b sees a's flag")
        assert cb.put("/flags/beta", json={"enabled": False}).status_code < 300
        poll(lambda: ca.get("/flags/beta").json()["enabled"] is False, 10, "a sees b's flag")
