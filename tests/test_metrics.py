"""``/metrics`` (``kindling.web.metrics``) on real servers: what a Prometheus scraper and the
dashboards built on it rely on. Counters move with the requests a client makes, labelled by
route template (never the raw path), tokens by application; with ``--workers 2`` one scrape
adds up both workers, whichever of them answers it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import KindlingServer, free_port, token_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: KindlingServer, client: httpx.Client | None = None) -> Samples:
    http = client or httpx.Client(base_url=server.base_url, timeout=30)
    try:
        response = http.get("/metrics")
    finally:
        if client is None:
            http.close()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def stranger(server: KindlingServer, n: int) -> httpx.Client:
    """A client from a loopback address of its own, so that refusals spend no budget of
    127.0.0.1, which the shared server's other tests use."""
    transport = httpx.HTTPTransport(local_address=f"127.0.9.{n}")
    return httpx.Client(base_url=server.base_url, transport=transport, timeout=30)


def form(client_id: str, secret: str, audience: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "audience": audience,
    }


def test_counters_move_with_requests_by_route_template_and_application(
    sqlite_server: KindlingServer,
) -> None:
    server = sqlite_server
    app = server.create_app(f"metrics-{uuid.uuid4().hex[:8]}", management=True)
    client_id, secret = app["client_id"], app["client_secret"]
    missing = uuid.uuid4().hex
    before = scrape(server)

    with server.client() as http:
        issued = http.post("/oauth2/token", data=form(client_id, secret, server.audience))
        assert issued.status_code == 200
        headers = {"Authorization": f"Bearer {token_for(server)}"}
        unknown_app = http.get(f"/api/v1/applications/{missing}", headers=headers)
        assert unknown_app.status_code in (400, 404)
        assert http.get("/api/v1/users", headers=headers).status_code == 200
    with stranger(server, 11) as http:
        wrong = http.post("/oauth2/token", data=form(client_id, "wrong", server.audience))
        assert wrong.status_code == 401
        guessed = http.post("/oauth2/token", data=form(uuid.uuid4().hex, "wrong", server.audience))
        assert guessed.status_code == 401

    after = scrape(server)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("kindling_tokens_issued_total", client_id=client_id) == 1
    # A known application's refusal names it; a guessed id adds no series of its own.
    assert delta("kindling_tokens_refused_total", client_id=client_id, status="401") == 1
    assert delta("kindling_tokens_refused_total", client_id="unknown", status="401") >= 1
    token_route = {"method": "POST", "route": "/oauth2/token"}
    assert delta("kindling_http_requests_total", **token_route, status="200") >= 1
    assert delta("kindling_http_requests_total", **token_route, status="401") >= 2
    item = {
        "method": "GET",
        "route": "/api/v1/applications/{application_id}",
        "status": str(unknown_app.status_code),
    }
    assert delta("kindling_http_requests_total", **item) == 1
    assert delta("kindling_http_request_duration_seconds_count", **item) == 1
    assert delta("kindling_http_request_duration_seconds_sum", **item) > 0
    users = {"method": "GET", "route": "/api/v1/users", "status": "200"}
    assert delta("kindling_http_requests_total", **users) == 1
    # The scrape before this one was counted too, under its own route.
    assert delta("kindling_http_requests_total", method="GET", route="/metrics", status="200") >= 1

    # Route templates only: neither the id in the path nor the guessed client id appears.
    labels = {v for _, pairs in after for _, v in pairs}
    assert not any(missing in label for label in labels)
    # Database pool and webhook gauges are there (one worker, SQLite: no pool bound).
    assert value(after, "kindling_db_connections", state="open") >= 1
    assert value(after, "kindling_db_pool_max") == 0
    assert ("kindling_webhook_backlog", frozenset()) in after
    assert value(after, "kindling_webhook_deliveries", status="failed") >= 0


def test_two_workers_are_added_up_in_one_scrape(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stale = data_dir / "metrics" / "counter_999999.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over from an earlier run")
    server = KindlingServer(
        data_dir=data_dir,
        port=free_port(),
        extra_args=["--workers", "2"],
        extra_env={
            "KINDLING_RATE_LIMIT_TOKEN_FAILURES_IP": "2/minute",
            "KINDLING_RATE_LIMIT_TOKEN_FAILURES": "1000/minute",
        },
    ).start()
    try:
        directory = data_dir / "metrics"
        assert not stale.exists()  # cleared at start
        assert directory.stat().st_mode & 0o777 == 0o700

        # Fresh connections until both workers have answered (each keeps its own file).
        sent = 0
        while sent < 200:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                assert http.get("/healthz").status_code == 200
            sent += 1
            pids = {p.stem.rsplit("_", 1)[1] for p in directory.glob("counter_*.db")}
            if len(pids) >= 2 and sent >= 10:
                break
        assert len(pids) >= 2, f"one worker answered {sent} requests: {os.listdir(directory)}"

        # Failed client authentication from one address until the limit answers 429.
        statuses = []
        with stranger(server, 12) as http:
            for _ in range(8):
                response = http.post(
                    "/oauth2/token", data=form(uuid.uuid4().hex, "wrong", server.audience)
                )
                statuses.append(response.status_code)
        assert 429 in statuses, statuses

        for _ in range(4):  # whichever worker answers the scrape, it counts both
            samples = scrape(server)
            health = {"method": "GET", "route": "/healthz", "status": "200"}
            assert value(samples, "kindling_http_requests_total", **health) == sent
            assert value(samples, "kindling_rate_limited_total", entry_point="token") == (
                statuses.count(429)
            )
            assert value(
                samples, "kindling_tokens_refused_total", client_id="unknown", status="401"
            ) == statuses.count(401)
    finally:
        server.stop()
