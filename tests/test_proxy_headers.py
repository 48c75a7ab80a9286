"""``X-Forwarded-*`` behind a load balancer (``kindling.web.proxy``, RFC 9700 §4.13).

What an operator relies on: with ``--trusted-proxies``, requests the proxy passes on are
audited, rate-limited and given URLs as the client sent them; anyone else's forwarded
headers change nothing, so a client cannot pick the address it is audited or throttled
under. One real server trusts 127.0.0.1; "untrusted" clients connect from other loopback
addresses (127.0.0.0/8 is all loopback on Linux).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import KindlingServer, free_port


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindlingServer]:
    server = KindlingServer(
        data_dir=tmp_path_factory.mktemp("proxied"),
        port=free_port(),
        extra_args=["--trusted-proxies", "127.0.0.1, 10.0.0.0/8"],
        extra_env={
            "KINDLING_RATE_LIMIT_TOKEN_FAILURES_IP": "3/minute",
            "KINDLING_RATE_LIMIT_TOKEN_FAILURES": "1000/minute",
        },
    ).start()
    yield server
    server.stop()


def client_from(server: KindlingServer, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, transport=transport, timeout=30)


def form(server: KindlingServer, client_id: str, secret: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "audience": server.audience,
    }


def audit_row(server: KindlingServer, request_id: str) -> dict[str, Any]:
    """The audit row of one request (the token endpoint's are written in batches)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        result = server.cli("audit", "--action", "token.*", "--limit", "200", "--json")
        assert result.returncode == 0, result.stderr
        for row in json.loads(result.stdout):
            if row["request_id"] == request_id:
                return dict(row)
        time.sleep(0.2)
    raise AssertionError(f"no audit row for request {request_id}")


def test_the_banner_says_to_set_the_issuer_behind_a_proxy(proxied: KindlingServer) -> None:
    assert proxied.wait_for_output("set --issuer")


def test_audit_rows_name_the_forwarded_client_only_from_a_trusted_proxy(
    proxied: KindlingServer,
) -> None:
    trusted_id, untrusted_id = uuid.uuid4().hex, uuid.uuid4().hex
    good = form(proxied, proxied.client_id, proxied.client_secret)
    with client_from(proxied, "127.0.0.1") as http:
        # The left entry is whatever the client claimed; the proxy appended the right one.
        headers = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Request-ID": trusted_id}
        assert http.post("/oauth2/token", data=good, headers=headers).status_code == 200
    with client_from(proxied, "127.0.0.2") as http:
        headers = {"X-Forwarded-For": "203.0.113.50", "X-Request-ID": untrusted_id}
        assert http.post("/oauth2/token", data=good, headers=headers).status_code == 200

    assert audit_row(proxied, trusted_id)["ip"] == "203.0.113.9"
    assert audit_row(proxied, untrusted_id)["ip"] == "127.0.0.2"


def test_rate_limits_count_the_forwarded_address_and_ignore_a_strangers_claims(
    proxied: KindlingServer,
) -> None:
    def fail(http: httpx.Client, forwarded: str) -> int:
        data = form(proxied, uuid.uuid4().hex, "wrong")
        response = http.post("/oauth2/token", data=data, headers={"X-Forwarded-For": forwarded})
        return response.status_code

    with client_from(proxied, "127.0.0.1") as http:
        # Behind the proxy: one client's failures lock out that client's address only.
        assert [fail(http, "203.0.113.21") for _ in range(4)] == [401, 401, 401, 429]
        assert fail(http, "203.0.113.22") == 401
    with client_from(proxied, "127.0.0.3") as http:
        # Not a proxy: a new X-Forwarded-For each time does not buy a new budget.
        statuses = [fail(http, f"203.0.113.{30 + n}") for n in range(4)]
        assert statuses == [401, 401, 401, 429]


def test_scheme_and_host_of_derived_urls_come_from_a_trusted_proxy_only(
    proxied: KindlingServer,
) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "auth.example.com"}
    with client_from(proxied, "127.0.0.1") as http:
        servers = http.get("/api/openapi.json", headers=headers).json()["servers"]
        assert servers[0]["url"] == "https://auth.example.com"
    with client_from(proxied, "127.0.0.2") as http:
        servers = http.get("/api/openapi.json", headers=headers).json()["servers"]
        assert all("example.com" not in s["url"] for s in servers)
        assert servers[0]["url"] == proxied.base_url


def test_a_malformed_proxy_list_stops_serve_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kindling", "serve", "--data-dir", str(tmp_path / "d")]
        + ["--port", str(free_port()), "--trusted-proxies", "10.0.0.0/8,not-an-address"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result
    assert result.stderr.strip().splitlines() == [
        "Error: --trusted-proxies must list IP addresses or CIDR networks (10.0.0.0/8), "
        "not 'not-an-address'"
    ]
    assert not (tmp_path / "d").exists()
