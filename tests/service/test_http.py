"""The service end to end: a real `loopsafe serve` process, over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.service.conftest import MakeServer
from tests.service.server import OLD_SECRET, SECRET, TOKEN, Server, poll, signed

BODY = b'{"event": "push", "n": 1}'
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, object] = response.json()
    assert {"type", "title", "status", "detail"} <= doc.keys()
    assert doc["status"] == status
    return doc


def post(client: httpx.Client, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    return client.post("/webhooks/github", content=body, headers=headers)


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def test_a_signed_delivery_is_accepted_stored_and_processed(
    server: Server, client: httpx.Client
) -> None:
    r = post(client, signed(BODY, "msg_1"))
    assert r.status_code == 202
    assert r.json()["id"] == "msg_1"
    job_id = r.json()["job_id"]
    poll(lambda: server.deliveries()[0]["state"] == "processed", what="processed")
    [item] = server.deliveries()
    assert item["id"] == "msg_1"
    assert item["job_id"] == job_id
    # The delivery is marked processed inside its job, just before the job completes.
    poll(lambda: client.get(f"/jobs/{job_id}").json()["state"] == "succeeded", what="succeeded")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(signed(BODY, "msg_x", secret=OLD_SECRET), id="wrong-secret"),
        pytest.param({**signed(BODY, "msg_x"), "webhook-signature": "v1,AAAA"}, id="bad"),
        pytest.param(signed(BODY, "msg_x", when=datetime.now(UTC) - timedelta(hours=1)), id="old"),
        pytest.param(
            signed(BODY, "msg_x", when=datetime.now(UTC) + timedelta(hours=1)), id="future"
        ),
        pytest.param({"content-type": "application/json"}, id="unsigned"),
    ],
)
def test_a_delivery_not_verified_is_refused_and_not_stored(
    server: Server, client: httpx.Client, headers: dict[str, str]
) -> None:
    assert_problem(post(client, headers), 401)
    assert server.deliveries() == []


def test_a_replayed_signature_on_another_body_is_refused(client: httpx.Client) -> None:
    headers = signed(BODY, "msg_r")
    assert post(client, headers).status_code == 202
    assert_problem(post(client, headers, b'{"event": "push", "n": 2}'), 401)


def test_any_valid_signature_verifies_during_key_rotation(client: httpx.Client) -> None:
    old, new = signed(BODY, "msg_k", secret=OLD_SECRET), signed(BODY, "msg_k")
    both = f"{old['webhook-signature']} {new['webhook-signature']}"
    assert post(client, {**new, "webhook-signature": both}).status_code == 202


def test_a_duplicate_delivery_is_answered_2xx_and_stored_and_processed_once(
    server: Server, client: httpx.Client
) -> None:
    first = post(client, signed(BODY, "msg_d"))
    again = post(client, signed(BODY, "msg_d"))
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["job_id"] == first.json()["job_id"]
    poll(lambda: server.deliveries()[0]["state"] == "processed", what="processed")
    assert len(server.deliveries()) == 1
    jobs = client.get("/jobs").json()["items"]
    assert [j["id"] for j in jobs] == [first.json()["job_id"]]


def test_an_oversized_body_is_refused_with_413(server: Server, client: httpx.Client) -> None:
    big = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    assert_problem(post(client, signed(big, "msg_big"), big), 413)

    def chunks() -> Iterator[bytes]:  # no content-length: chunked transfer encoding
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    r = client.post("/webhooks/github", content=chunks(), headers=signed(big, "msg_big2"))
    assert "content-length" not in r.request.headers
    assert_problem(r, 413)
    assert server.deliveries() == []


def test_an_unknown_source_is_404(client: httpx.Client) -> None:
    assert_problem(client.post("/webhooks/nobody", content=BODY, headers=signed(BODY, "m")), 404)
    assert_problem(client.get("/webhooks/nobody/deliveries"), 404)


def test_a_verified_body_that_is_not_json_is_400(server: Server, client: httpx.Client) -> None:
    body = b"not json at all"
    assert_problem(post(client, signed(body, "msg_nj"), body), 400)
    assert server.deliveries() == []


@pytest.mark.parametrize(
    "path", ["/webhooks/github/deliveries?limit=1001", "/jobs?limit=0", "/jobs/abc"]
)
def test_a_validation_error_is_a_problem_document(client: httpx.Client, path: str) -> None:
    assert "errors" in assert_problem(client.get(path), 422)


def test_an_unknown_route_and_a_bad_cursor_are_problem_documents(client: httpx.Client) -> None:
    assert_problem(client.get("/nothing-here"), 404)
    assert_problem(client.get("/webhooks/github/deliveries", params={"cursor": "zz"}), 400)
    assert_problem(client.delete("/health"), 405)


MUTATIONS = [
    ("PUT", "/cache/k", {"content": b"v"}),
    ("DELETE", "/cache/k", {}),
    ("PUT", "/flags/f", {"json": {"enabled": True}}),
    ("POST", "/jobs/1/retry", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), MUTATIONS)
@pytest.mark.parametrize(
    "auth",
    [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x"],
)
def test_a_mutating_route_without_the_right_token_is_401(
    client: httpx.Client, method: str, path: str, kwargs: dict[str, object], auth: str | None
) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    r = client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "kwargs"), MUTATIONS)
def test_with_no_token_configured_mutating_routes_are_403(
    make_server: MakeServer, method: str, path: str, kwargs: dict[str, object]
) -> None:
    server = make_server(env={"LOOPSAFE_ADMIN_TOKEN": ""}).start()
    with server.client() as c:
        for headers in ({}, ADMIN):
            r = c.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
            assert_problem(r, 403)


def test_the_right_token_works_on_every_mutating_route(client: httpx.Client) -> None:
    assert client.put("/cache/k", content=b"v", headers=ADMIN).status_code == 204
    assert client.delete("/cache/k", headers=ADMIN).status_code == 204
    assert client.put("/flags/f", json={"enabled": True}, headers=ADMIN).status_code == 200
    assert_problem(client.post("/jobs/999/retry", headers=ADMIN), 404)


def test_deliveries_page_newest_first_with_a_cursor_and_utc_times(
    server: Server, client: httpx.Client
) -> None:
    ids = [f"msg_{i}" for i in range(5)]
    for msg_id in ids:
        assert post(client, signed(BODY, msg_id)).status_code == 202
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/webhooks/github/deliveries", params=params).json()
        assert len(page["items"]) <= 2
        for item in page["items"]:
            at = item["received_at"]
            assert at.endswith("Z")
            assert datetime.fromisoformat(at).utcoffset() == timedelta(0)
            seen.append(item["id"])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ids[::-1]


def test_a_failing_handler_makes_the_job_dead_and_retry_runs_it_again(
    make_server: MakeServer,
) -> None:
    server = make_server(
        env={
            "LOOPSAFE_WEBHOOK_HANDLER": "tests.service.handlers:fail_until_allowed",
            "LOOPSAFE_JOB_ATTEMPTS": "3",
            "LOOPSAFE_JOB_RETRY_BASE": "0",
        }
    ).start()
    allow = server.data_dir / "allow"
    with server.client() as c:
        job_id = post(c, signed(BODY, "msg_f")).json()["job_id"]
        poll(lambda: c.get(f"/jobs/{job_id}").json()["state"] == "dead", 20, "dead")
        assert server.deliveries()[0]["state"] == "dead"
        job = c.get(f"/jobs/{job_id}").json()
        assert job["attempts"] == job["max_attempts"]
        assert [j["id"] for j in c.get("/jobs", params={"state": "dead"}).json()["items"]] == [
            job_id
        ]
        assert c.get("/jobs", params={"state": "succeeded"}).json()["items"] == []
        allow.touch()
        r = c.post(f"/jobs/{job_id}/retry", headers=ADMIN)
        assert r.status_code == 200, r.text
        poll(lambda: c.get(f"/jobs/{job_id}").json()["state"] == "succeeded", what="retried")
        assert server.deliveries()[0]["state"] == "processed"
        assert_problem(c.post(f"/jobs/{job_id}/retry", headers=ADMIN), 409)


def test_cache_values_json_and_bytes_with_ttl(client: httpx.Client) -> None:
    assert_problem(client.get("/cache/k"), 404)
    r = client.put("/cache/j", json={"a": [1, 2]}, headers=ADMIN)
    assert r.status_code == 204
    got = client.get("/cache/j")
    assert got.headers["content-type"] == "application/json"
    assert got.json() == {"a": [1, 2]}
    raw = bytes(range(256))
    assert client.put("/cache/b", content=raw, headers=ADMIN).status_code == 204
    got = client.get("/cache/b")
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.content == raw
    r = client.put("/cache/t", content=b"x", params={"ttl": 0.3}, headers=ADMIN)
    assert r.status_code == 204
    poll(lambda: client.get("/cache/t").status_code == 404, what="expiry")
    assert_problem(client.put("/cache/t", content=b"x", params={"ttl": -1}, headers=ADMIN), 422)
    bad = {**ADMIN, "content-type": "application/json"}
    assert_problem(client.put("/cache/t", content=b"{nope", headers=bad), 400)
    assert client.delete("/cache/b", headers=ADMIN).status_code == 204
    assert_problem(client.get("/cache/b"), 404)
    assert_problem(client.delete("/cache/b", headers=ADMIN), 404)


def test_flags_list_check_gates_and_audit(client: httpx.Client) -> None:
    assert client.get("/flags").json() == {"items": []}
    assert client.get("/flags/beta", params={"actor": "ann"}).json()["enabled"] is False
    r = client.put("/flags/beta", json={"actors": ["ann"], "groups": ["staff"]}, headers=ADMIN)
    assert r.status_code == 200
    assert r.json()["actors"] == ["ann"]
    on = client.get("/flags/beta", params={"actor": "ann"}).json()
    assert on == {"name": "beta", "enabled": True, "actor": "ann", "groups": []}
    assert client.get("/flags/beta", params={"actor": "bob"}).json()["enabled"] is False
    staff = client.get("/flags/beta", params={"actor": "bob", "group": ["x", "staff"]})
    assert staff.json()["enabled"] is True
    client.put("/flags/beta", json={"enabled": True}, headers=ADMIN)
    assert client.get("/flags/beta").json()["enabled"] is True
    [listed] = client.get("/flags").json()["items"]
    assert listed["name"] == "beta"
    assert listed["enabled"] is True
    audit = client.get("/flags/beta/audit").json()["items"]
    assert len(audit) == 2
    assert audit[0]["after"]["enabled"] is True
    assert audit[0]["at"].endswith("Z")
    assert audit[1]["before"] is None or audit[1]["before"]["actors"] == []
    bad = [{"enabled": "maybe"}, {"percentage_of_actors": 101}, {"nope": 1}]
    for gates in bad:
        assert_problem(client.put("/flags/beta", json=gates, headers=ADMIN), 422)


def test_ready_and_metrics(client: httpx.Client) -> None:
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    client.get("/health")
    text = client.get("/metrics").text
    assert "http_request" in text
    assert "loopsafe_loop_lag_seconds" in text
    # The stores' own statistics, read at scrape time.
    for series in ("loopsafe_cache_hits_total", "loopsafe_flags_checks_total"):
        assert f'{series}{{store="service"}}' in text
    assert "loopsafe_queue_" in text


def test_secrets_never_appear_in_responses_or_logs(server: Server, client: httpx.Client) -> None:
    secrets = [SECRET, SECRET.removeprefix("whsec_"), TOKEN]
    bodies = [
        post(client, signed(BODY, "msg_s")).text,
        post(client, signed(BODY, "msg_s2", secret=OLD_SECRET)).text,
        client.put("/cache/k", content=b"v", headers={"Authorization": "Bearer nope"}).text,
        client.get("/openapi.json").text,
        client.get("/metrics").text,
        client.get("/flags").text,
    ]
    server.stop()
    log = server.log()
    assert "GET /flags" in log  # the log is really there
    for secret in secrets:
        assert secret not in log
        for body in bodies:
            assert secret not in body


def test_a_response_carries_a_request_id(client: httpx.Client) -> None:
    assert client.get("/health", headers={"x-request-id": "abc-1"}).headers["x-request-id"] == (
        "abc-1"
    )
    assert len(client.get("/health").headers["x-request-id"]) >= 16


def test_json_body_round_trip_exact(client: httpx.Client) -> None:
    body = json.dumps({"unicode": "é✓", "n": 1.0}, ensure_ascii=False).encode()
    assert post(client, signed(body, "msg_u"), body).status_code == 202
