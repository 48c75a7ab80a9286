"""``POST /oauth2/revoke`` against real servers (RFC 7009; RELIABILITY-AND-USERS.md A5, A12 #35).

The client authenticates as at the token endpoint (a failure is 401 ``invalid_client``,
never a silent 200); an unknown or invalid token is 200 with nothing done; another
client's token is refused with 400 ``unauthorized_client`` and keeps working; the
client's own token is revoked, and from then on the Management API refuses it (401
``invalid_token``) in every worker process: a ``--workers 2`` server on both engines
answers a few dozen calls on fresh connections after one revoke, from both workers,
and refuses every one.
"""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.keys_support import (
    INTROSPECT,
    REVOKE,
    USERS,
    app_token,
    bearer_get,
    claims_for,
    credentials,
    new_app,
    post_as_client,
    post_form,
    running_server,
    server_context,
)
from tests.support import KindlingServer
from tests.test_token_effects_workers import answering_worker

WORKERS = 2
CALLS = 40
MIN_PER_WORKER = 3
MAX_CALLS = 400


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServer]:
    with running_server(tmp_path_factory.mktemp(f"revoke-{request.param}"), request.param) as s:
        yield s


@pytest.fixture(scope="module")
def app(server: KindlingServer) -> dict[str, Any]:
    return new_app(server)


def revoke(
    server: KindlingServer, app: dict[str, Any], token: str, basic: bool = True, **extra: str
) -> httpx.Response:
    return post_as_client(server, REVOKE, app, token, basic, **extra)


def assert_done(response: httpx.Response) -> None:
    """RFC 7009 §2.2: 200, no body (so no Content-Type either), not cacheable."""
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert "content-type" not in response.headers
    assert response.headers["cache-control"] == "no-store"


def oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error and isinstance(body["error_description"], str), body


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["code"] == "INVALID_TOKEN"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def is_active(server: KindlingServer, app: dict[str, Any], token: str) -> bool:
    response = post_form(server, INTROSPECT, {"token": token}, auth=credentials(app))
    assert response.status_code == 200, response.text
    return bool(response.json()["active"])


# --- revoking ---------------------------------------------------------------------------


@pytest.mark.parametrize("basic", [True, False], ids=["basic", "form"])
def test_a_revoked_token_is_refused_by_the_management_api_at_once(
    server: KindlingServer, app: dict[str, Any], basic: bool
) -> None:
    token = app_token(server, app)
    other = app_token(server, app)
    assert bearer_get(server, token).status_code == 200
    assert_done(revoke(server, app, token, basic=basic))
    assert_refused(bearer_get(server, token))
    assert not is_active(server, app, token)
    # Only that token: another token of the same application still works.
    assert bearer_get(server, other).status_code == 200
    # Revoking again is fine and changes nothing.
    assert_done(revoke(server, app, token, basic=basic))


def test_a_hint_of_refresh_token_still_revokes_the_access_token(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app)
    assert_done(revoke(server, app, token, token_type_hint="refresh_token"))
    assert_refused(bearer_get(server, token))


def test_a_token_revoked_within_the_expiry_leeway_is_refused(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    """Expired 20 s ago, still accepted by the Management API's 60 s leeway: so it must
    still be revocable."""
    with server_context(server) as ctx:
        now = int(time.time())
        token = ctx.keyring.signer().sign(
            claims_for(server, app["client_id"], iat=now - 600, exp=now - 20)
        )
    assert bearer_get(server, token).status_code == 200
    assert_done(revoke(server, app, token))
    assert_refused(bearer_get(server, token))


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda s, c, cid: "garbage", id="garbage"),
        pytest.param(lambda s, c, cid: "a.b.c", id="junk-segments"),
        pytest.param(
            lambda s, c, cid: c.keyring.signer().sign(
                claims_for(s, cid, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
            ),
            id="expired",
        ),
        pytest.param(
            lambda s, c, cid: c.keyring.signer_for("webhook+jwt").sign(claims_for(s, cid)),
            id="webhook-typ",
        ),
    ],
)
def test_unknown_or_invalid_tokens_are_200_with_nothing_done(
    server: KindlingServer, app: dict[str, Any], token: Any
) -> None:
    with server_context(server) as ctx:
        value = token(server, ctx, app["client_id"])
    assert_done(revoke(server, app, value))


def test_another_clients_token_is_refused_and_keeps_working(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    owner = new_app(server)
    token = app_token(server, owner)
    for basic in (True, False):
        oauth_error(revoke(server, app, token, basic=basic), 400, "unauthorized_client")
    assert bearer_get(server, token).status_code == 200
    assert is_active(server, owner, token)


# --- client authentication ---------------------------------------------------------------


def test_no_client_authentication_is_401_invalid_client(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app)
    oauth_error(post_form(server, REVOKE, {"token": token}), 401, "invalid_client")
    # A bearer token is not client authentication.
    response = post_form(
        server, REVOKE, {"token": token}, headers={"Authorization": f"Bearer {token}"}
    )
    oauth_error(response, 401, "invalid_client")
    assert bearer_get(server, token).status_code == 200


def test_a_wrong_secret_is_401_invalid_client_not_a_silent_200(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app)
    response = post_form(server, REVOKE, {"token": token}, auth=(app["client_id"], "wrong"))
    oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic realm=")
    form = {"token": token, "client_id": app["client_id"], "client_secret": "wrong"}
    oauth_error(post_form(server, REVOKE, form), 401, "invalid_client")
    assert bearer_get(server, token).status_code == 200


def test_basic_and_a_body_secret_together_are_400_invalid_request(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app)
    response = post_form(
        server,
        REVOKE,
        {"token": token, "client_secret": app["client_secret"]},
        auth=credentials(app),
    )
    oauth_error(response, 400, "invalid_request")
    assert bearer_get(server, token).status_code == 200


def test_a_missing_token_is_400_invalid_request(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    oauth_error(post_form(server, REVOKE, {}, auth=credentials(app)), 400, "invalid_request")


def test_get_is_405(server: KindlingServer) -> None:
    with server.client() as http:
        response = http.get(REVOKE)
    oauth_error(response, 405, "invalid_request")
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
def test_discovery_advertises_revocation(server: KindlingServer, path: str) -> None:
    with server.client() as http:
        document = http.get(path).json()
    assert document["revocation_endpoint"] == f"{server.issuer}{REVOKE}"
    assert document["revocation_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]


def test_the_revocation_is_recorded_as_an_event_without_the_token(
    server: KindlingServer, app: dict[str, Any]
) -> None:
    token = app_token(server, app)
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert_done(revoke(server, app, token))
    with server_context(server) as ctx, ctx.storage.engine.session(write=False) as session:
        rows = session.all("SELECT data FROM outbox WHERE type = 'token.revoked'")
    found = [json.loads(r["data"]) for r in rows if json.loads(r["data"])["token"]["jti"] == jti]
    assert len(found) == 1
    assert found[0]["token"]["client_id"] == app["client_id"]
    assert token not in json.dumps(found)


# --- every worker -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindlingServer]:
    with running_server(
        tmp_path_factory.mktemp(f"revoke-workers-{request.param}"),
        request.param,
        ["--workers", str(WORKERS)],
    ) as s:
        yield s


def management_call(server: KindlingServer, token: str) -> tuple[int, int]:
    """GET /api/v1/users on a fresh TCP connection: (status, the worker that answered)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "GET", USERS, headers={"Host": server.domain, "Authorization": f"Bearer {token}"}
        )
        response = connection.getresponse()
        response.read()
        return response.status, answering_worker(server, connection)
    finally:
        connection.close()


def calls_until_both_workers_answered(
    server: KindlingServer, token: str, expect: int, what: str
) -> Counter[int]:
    """At least ``CALLS`` calls, and more until each worker answered several; every one
    must answer ``expect``."""
    answered: Counter[int] = Counter()
    total = 0
    while total < CALLS or len(answered) < WORKERS or min(answered.values()) < MIN_PER_WORKER:
        assert total < MAX_CALLS, f"the workers did not both answer: {dict(answered)}"
        status, worker = management_call(server, token)
        assert status == expect, f"{what}: call {total + 1} (worker {worker}) got {status}"
        answered[worker] += 1
        total += 1
    return answered


def test_a_revoke_through_one_worker_is_refused_by_every_worker_at_once(
    workers: KindlingServer,
) -> None:
    app = new_app(workers)
    token = app_token(workers, app)
    # Both workers accept the token first (and hold a current view).
    calls_until_both_workers_answered(workers, token, 200, "before the revoke")
    assert_done(revoke(workers, app, token))
    calls_until_both_workers_answered(workers, token, 401, "after the revoke")
    # A fresh token of the same application works everywhere.
    calls_until_both_workers_answered(workers, app_token(workers, app), 200, "a fresh token")
