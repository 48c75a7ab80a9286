"""Rate limits (``kindling.web.ratelimit``) on real ``kindling serve`` processes.

What users rely on (design notes A9, A12 case 22): one client over its budget is
answered 429 with ``Retry-After`` and ``RateLimit-Reset`` while every other client
keeps getting tokens and API answers; guessing secrets stops after a few failures,
even for the right secret; a forged token cannot spend another application's budget;
with Redis the budget is one for all workers; with Redis gone the server still answers.
The limits are set low through ``KINDLING_RATE_LIMIT_*`` so the tests reach them fast.
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import ENGINES, require_postgres
from tests.support import (
    KindlingServer,
    create_pg_schema,
    drop_pg_schema,
    error_code,
    free_port,
)

#: Run first (tests/conftest.py): about 5 s per test on a quiet machine.
pytestmark = pytest.mark.long(5)

GENEROUS = "1000/minute"


def start(
    tmp: Path,
    env: dict[str, str],
    args: list[str] | None = None,
    database_url: str | None = None,
) -> KindlingServer:
    base = {
        "KINDLING_RATE_LIMITS": "on",
        "KINDLING_RATE_LIMIT_TOKEN": GENEROUS,
        "KINDLING_RATE_LIMIT_TOKEN_IP": GENEROUS,
        "KINDLING_RATE_LIMIT_TOKEN_FAILURES": GENEROUS,
        "KINDLING_RATE_LIMIT_TOKEN_FAILURES_IP": GENEROUS,
        "KINDLING_RATE_LIMIT_API": GENEROUS,
        "KINDLING_RATE_LIMIT_API_ANONYMOUS": GENEROUS,
    }
    base.update(env)
    server = KindlingServer(
        data_dir=tmp, port=free_port(), extra_env=base, database_url=database_url
    )
    server.extra_args = list(args or [])
    return server.start()


def new_app(server: KindlingServer) -> tuple[str, str]:
    app = server.create_app(f"limits-{uuid.uuid4().hex[:8]}", management=True)
    return str(app["client_id"]), str(app["client_secret"])


def token_request(
    http: httpx.Client, server: KindlingServer, client_id: str, secret: str, basic: bool = False
) -> httpx.Response:
    form = {"grant_type": "client_credentials", "audience": server.audience}
    if basic:
        auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return http.post("/oauth2/token", data=form, headers={"Authorization": f"Basic {auth}"})
    form.update(client_id=client_id, client_secret=secret)
    return http.post("/oauth2/token", data=form)


def assert_token_429(resp: httpx.Response, window: int) -> int:
    """The token endpoint's 429: OAuth error shape, no-store, both retry headers."""
    assert resp.status_code == 429, resp.text
    body = resp.json()
    assert body["error"] == "too_many_requests" and set(body) == {"error", "error_description"}
    assert resp.headers["cache-control"] == "no-store"
    retry = int(resp.headers["retry-after"])
    assert resp.headers["ratelimit-reset"] == str(retry)
    assert 1 <= retry <= window
    return retry


def assert_api_429(resp: httpx.Response, window: int) -> None:
    """The Management API's 429: Kinde's error_response with TOO_MANY_REQUESTS."""
    error_code(resp, 429, "TOO_MANY_REQUESTS")
    retry = int(resp.headers["retry-after"])
    assert resp.headers["ratelimit-reset"] == str(retry)
    assert 1 <= retry <= window


@pytest.fixture(scope="module", params=ENGINES)
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServer]:
    """Low limits, on each engine (on PostgreSQL the token endpoint runs in a thread)."""
    schema = url = None
    if request.param == "postgres":
        require_postgres()
        schema, url = create_pg_schema()
    server = start(
        tmp_path_factory.mktemp(f"limited-{request.param}"),
        {
            "KINDLING_RATE_LIMIT_TOKEN": "4/minute",
            "KINDLING_RATE_LIMIT_TOKEN_FAILURES": "3/minute",
            "KINDLING_RATE_LIMIT_API": "5/minute",
        },
        database_url=url,
    )
    yield server
    server.stop()
    if schema:
        drop_pg_schema(schema)


def test_a_client_over_its_token_limit_gets_429_while_another_keeps_getting_tokens(
    limited: KindlingServer,
) -> None:
    hammer, hammer_secret = new_app(limited)
    other, other_secret = new_app(limited)
    with limited.client() as http:
        for _ in range(4):
            assert token_request(http, limited, hammer, hammer_secret).status_code == 200
            assert token_request(http, limited, other, other_secret, basic=True).status_code == 200
        for basic in (False, True, False):
            assert_token_429(token_request(http, limited, hammer, hammer_secret, basic), 60)
        # The other client has used its 4 as well: a third client is untouched.
        third, third_secret = new_app(limited)
        for _ in range(4):
            assert token_request(http, limited, third, third_secret).status_code == 200
        assert_token_429(token_request(http, limited, other, other_secret), 60)
    assert limited.wait_for_output("rate limit token reached for " + hammer)


def test_failed_authentication_locks_the_client_out_even_with_the_right_secret(
    limited: KindlingServer,
) -> None:
    victim, victim_secret = new_app(limited)
    bystander, bystander_secret = new_app(limited)
    with limited.client() as http:
        for basic in (False, True, False):
            wrong = token_request(http, limited, victim, "guess-" + uuid.uuid4().hex, basic)
            assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        # Budget spent: a fourth guess and then the right secret are refused alike.
        assert_token_429(token_request(http, limited, victim, "guess-4"), 60)
        assert_token_429(token_request(http, limited, victim, victim_secret), 60)
        assert_token_429(token_request(http, limited, victim, victim_secret, basic=True), 60)
        # Another client from the same address is not locked out.
        assert token_request(http, limited, bystander, bystander_secret).status_code == 200


def audit_rows(server: KindlingServer, statement: str, params: tuple[Any, ...]) -> list[Any]:
    """Rows of the server's audit table, read from its database as an operator would."""
    if server.database_url:
        with psycopg.connect(server.database_url, autocommit=True) as conn:
            return list(conn.execute(statement.replace("?", "%s"), params).fetchall())
    conn = sqlite3.connect(server.data_dir / "kindling.db", timeout=10)
    try:
        return list(conn.execute(statement, params).fetchall())
    finally:
        conn.close()


def refusal_rows(server: KindlingServer, actor: str) -> dict[tuple[str, str], tuple[int, Any]]:
    """{(action, error code): (summed count, details of one row)} of ``actor``'s refusals."""
    rows = audit_rows(
        server, "SELECT action, error_code, count, details FROM audit WHERE actor_id = ?", (actor,)
    )
    found: dict[tuple[str, str], tuple[int, Any]] = {}
    for action, code, count, details in rows:
        total = found.get((action, code), (0, None))[0] + int(count)
        found[(action, code)] = (total, json.loads(details))
    return found


def test_brute_force_leaves_audit_rows_for_its_401s_and_429s(limited: KindlingServer) -> None:
    """A12 case 22: guessing a secret is refused (401, then 429 once the failure budget is
    spent) and every refusal is audited, coalesced with a count: on the token endpoint
    and on introspection and revocation, which share the budgets. No guess is stored."""
    victim, victim_secret = new_app(limited)
    prober, _ = new_app(limited)
    guesses = [f"guess-{uuid.uuid4().hex}" for _ in range(3)]
    with limited.client() as http:
        for guess in guesses:
            assert token_request(http, limited, victim, guess).status_code == 401
        for _ in range(3):
            assert_token_429(token_request(http, limited, victim, "guess-again"), 60)
        assert_token_429(token_request(http, limited, victim, victim_secret), 60)
        locked = {"token": "t", "client_id": victim, "client_secret": victim_secret}
        assert http.post("/oauth2/introspect", data=locked).status_code == 429
        wrong = {"token": "t", "client_id": prober, "client_secret": guesses[0]}
        assert http.post("/oauth2/introspect", data=wrong).status_code == 401
        assert http.post("/oauth2/revoke", data=wrong).status_code == 401

    expected = {
        ("token.refused", "invalid_client"): 3,
        ("token.refused", "too_many_requests"): 4,
        ("token.introspection_refused", "too_many_requests"): 1,
    }

    def settled() -> dict[tuple[str, str], tuple[int, Any]] | None:
        rows = refusal_rows(limited, victim)
        return rows if {k: v[0] for k, v in rows.items()} == expected else None

    deadline = time.monotonic() + 10
    rows = settled()
    while rows is None and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = settled()
    assert rows is not None, refusal_rows(limited, victim)
    assert rows[("token.refused", "too_many_requests")][1]["limit"] == "token-failures"
    deadline = time.monotonic() + 10
    while len(refusal_rows(limited, prober)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert {k: v[0] for k, v in refusal_rows(limited, prober).items()} == {
        ("token.introspection_refused", "invalid_client"): 1,
        ("token.revocation_refused", "invalid_client"): 1,
    }
    stored = repr(audit_rows(limited, "SELECT * FROM audit WHERE result = 'failure'", ()))
    for secret in (*guesses, victim_secret):
        assert secret not in stored


def forged_token(client_id: str, audience: str, issuer: str) -> str:
    """A well-formed RS256 token naming ``client_id``, signed by a key Kindling never had."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {
        "aud": [audience],
        "azp": client_id,
        "iss": issuer,
        "iat": now,
        "exp": now + 3600,
        "scope": "read:applications",
        "gty": ["client_credentials"],
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "forged"})


def test_the_api_is_limited_per_application_and_forged_tokens_spend_no_budget(
    limited: KindlingServer,
) -> None:
    busy, busy_secret = new_app(limited)
    quiet, quiet_secret = new_app(limited)
    with limited.client() as http:
        busy_token = token_request(http, limited, busy, busy_secret).json()["access_token"]
        quiet_token = token_request(http, limited, quiet, quiet_secret).json()["access_token"]
        forged = forged_token(quiet, limited.audience, limited.issuer)

        def get(token: str) -> httpx.Response:
            return http.get(
                "/api/v1/applications",
                params={"page_size": 1},
                headers={"Authorization": f"Bearer {token}"},
            )

        # Anyone can read a client id out of a token; a forged token naming the quiet
        # application is refused (401) and must not spend that application's budget.
        for _ in range(8):
            assert get(forged).status_code == 401
        for _ in range(5):
            assert get(busy_token).status_code == 200
        assert_api_429(get(busy_token), 60)
        for _ in range(5):
            assert get(quiet_token).status_code == 200
        assert_api_429(get(quiet_token), 60)
        # /kindling/v1 shares the application's budget (refused before routing).
        assert_api_429(
            http.get("/kindling/v1/anything", headers={"Authorization": f"Bearer {busy_token}"}),
            60,
        )


def test_a_revoked_token_spends_no_budget_of_its_application(limited: KindlingServer) -> None:
    """A token revoked (RFC 7009) is refused by the API and, like a forged one, counted
    against the peer address, not against the application it names."""
    app, secret = new_app(limited)
    with limited.client() as http:
        revoked = token_request(http, limited, app, secret).json()["access_token"]
        kept = token_request(http, limited, app, secret).json()["access_token"]

        def get(token: str) -> httpx.Response:
            return http.get(
                "/api/v1/applications",
                params={"page_size": 1},
                headers={"Authorization": f"Bearer {token}"},
            )

        assert get(revoked).status_code == 200  # 1 of the application's 5 per minute
        answer = http.post("/oauth2/revoke", data={"token": revoked}, auth=(app, secret))
        assert answer.status_code == 200, answer.text
        assert [get(revoked).status_code for _ in range(6)] == [401] * 6
        # The application's budget holds the one request it made with a valid token.
        assert [get(kept).status_code for _ in range(4)] == [200] * 4
        assert_api_429(get(kept), 60)


@pytest.fixture(scope="module")
def strict_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindlingServer]:
    server = start(
        tmp_path_factory.mktemp("strict-address"),
        {
            "KINDLING_RATE_LIMIT_TOKEN_FAILURES_IP": "5/minute",
            "KINDLING_RATE_LIMIT_API_ANONYMOUS": "3/minute",
        },
    )
    yield server
    server.stop()


def test_spraying_unknown_clients_from_one_address_locks_that_address_out(
    strict_address: KindlingServer,
) -> None:
    server = strict_address
    valid, valid_secret = new_app(server)
    with server.client() as http:
        token = token_request(http, server, valid, valid_secret).json()["access_token"]
        anonymous = [http.get("/api/v1/applications") for _ in range(3)]
        assert [r.status_code for r in anonymous] == [401, 401, 401]
        assert_api_429(http.get("/api/v1/applications"), 60)
        # An application with a valid token is counted on its own, not by address.
        ok = http.get("/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200

        for _ in range(5):
            client = uuid.uuid4().hex
            assert token_request(http, server, client, "sprayed").status_code == 401
        # Five failures from this address: even a valid client's right secret waits.
        assert_token_429(token_request(http, server, valid, valid_secret), 60)


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        pytest.skip("redis-server is not installed")
    return found


@pytest.fixture()
def redis_port() -> Iterator[int]:
    """A private redis-server on a free port (nothing on disk), stopped after the test."""
    port = free_port()
    process = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(10)


def test_with_redis_two_workers_share_one_budget(tmp_path: Path, redis_port: int) -> None:
    """Each worker serves more requests than the budget: counted per process, both would
    grant 6; counted in Redis, the two grant 6 together."""
    import redis

    from tests.test_token_effects_workers import answering_worker

    server = start(
        tmp_path,
        {
            "KINDLING_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "KINDLING_RATE_LIMIT_TOKEN": "6/minute",
        },
        ["--workers", "2"],
    )
    try:
        deadline = time.monotonic() + 60
        # The supervisor prints "running" before the workers can serve.
        while server.output.count("Application startup complete.") < 2:
            assert time.monotonic() < deadline, server.output
            time.sleep(0.05)
        client, secret = new_app(server)
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": client,
                "client_secret": secret,
                "audience": server.audience,
            }
        )
        served: Counter[int] = Counter()
        granted: Counter[int] = Counter()
        while len(served) < 2 or min(served.values()) < 8:
            assert sum(served.values()) < 300, f"both workers did not answer: {served}"
            # A new connection each time, so the kernel spreads them over both workers.
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                connection.request(
                    "POST",
                    "/oauth2/token",
                    body=form,
                    headers={
                        "Host": server.domain,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
                response = connection.getresponse()
                response.read()
                worker = answering_worker(server, connection)
            finally:
                connection.close()
            assert response.status in (200, 429), response.status
            served[worker] += 1
            granted[worker] += response.status == 200
        assert sum(granted.values()) == 6, (served, granted)
        keys = [k.decode() for k in redis.Redis(port=redis_port).keys("kindling:*")]
        assert any(f"/token/{client}/" in k for k in keys), keys
        assert "Redis is unreachable" not in server.output
    finally:
        server.stop()


def test_with_redis_down_the_server_answers_and_counts_in_process(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here
    server = start(
        tmp_path,
        {
            "KINDLING_REDIS_URL": f"redis://127.0.0.1:{closed}/0",
            "KINDLING_RATE_LIMIT_TOKEN": "3/minute",
        },
    )
    try:
        client, secret = new_app(server)
        with server.client() as http:
            started = time.monotonic()
            statuses = [token_request(http, server, client, secret).status_code for _ in range(6)]
            elapsed = time.monotonic() - started
            token = token_request(http, server, *new_app(server)).json()["access_token"]
            api = http.get("/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
        assert statuses == [200, 200, 200, 429, 429, 429]
        assert api.status_code == 200
        assert elapsed < 5, elapsed
        assert server.wait_for_output("Redis is unreachable")
        time.sleep(0.2)
        assert server.output.count("Redis is unreachable") == 1, server.output
    finally:
        server.stop()


def test_limits_can_be_switched_off(tmp_path: Path) -> None:
    server = start(tmp_path, {"KINDLING_RATE_LIMITS": "off", "KINDLING_RATE_LIMIT_TOKEN": "1/hour"})
    try:
        client, secret = new_app(server)
        with server.client() as http:
            assert all(
                token_request(http, server, client, secret).status_code == 200 for _ in range(3)
            )
    finally:
        server.stop()


def test_a_malformed_limit_stops_the_server_before_it_serves(tmp_path: Path) -> None:
    server = KindlingServer(
        data_dir=tmp_path,
        port=free_port(),
        extra_env={"KINDLING_RATE_LIMIT_API": "fifty per second"},
    )
    result = subprocess.run(
        [sys.executable, "-m", "kindling", "serve", "--port", str(server.port)],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "KINDLING_RATE_LIMIT_API" in result.stderr and "Uvicorn running" not in result.stdout
