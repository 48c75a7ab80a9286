"""API keys: shown once, stored hashed, verified (scopes, status, count), rotated and revoked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kindling.clock import isoformat
from kindling.context import open_storage
from tests.contract.contract import load_contract
from tests.support import KindlingServer

CONTRACT = load_contract()


@pytest.fixture
def http(server: KindlingServer) -> Iterator[httpx.Client]:
    client = server.client()
    client.headers["Authorization"] = f"Bearer {server.token()}"
    yield client
    client.close()


def _call(
    http: httpx.Client,
    method: str,
    path: str,
    expect: int,
    template: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    response = http.request(method, "/api/v1" + path, **kwargs)
    assert response.status_code == expect, (method, path, response.text)
    if template is not None:
        CONTRACT.validate_response(method, "/api/v1" + template, expect, response.json())
    return response


def _api_with_scopes(http: httpx.Client) -> tuple[str, dict[str, str]]:
    audience = f"https://keys-{uuid.uuid4().hex[:8]}.example.com"
    api_id = _call(http, "POST", "/apis", 200, json={"name": "Keys", "audience": audience}).json()[
        "api"
    ]["id"]
    ids = {}
    for key in ("things:read", "things:write"):
        ids[key] = _call(http, "POST", f"/apis/{api_id}/scopes", 200, json={"key": key}).json()[
            "scope"
        ]["id"]
    return api_id, ids


def _verify(server: KindlingServer, key: str) -> httpx.Response:
    with server.client() as anonymous:
        return anonymous.post("/api/v1/api_keys/verify", json={"api_key": key})


def test_key_is_shown_once_stored_hashed_and_verifies_with_its_scopes(
    server: KindlingServer,
    http: httpx.Client,
) -> None:
    api_id, scopes = _api_with_scopes(http)
    created = _call(
        http,
        "POST",
        "/api_keys",
        201,
        "/api_keys",
        json={
            "name": "CI key",
            "type": "environment",
            "api_id": api_id,
            "scope_ids": [scopes["things:read"]],
        },
    ).json()["api_key"]
    assert created["key"].startswith("kinde_") and len(created["key"]) == 49
    detail = _call(http, "GET", f"/api_keys/{created['id']}", 200, "/api_keys/{key_id}").json()[
        "api_key"
    ]
    assert "key" not in detail and detail["key_suffix"] == created["key"][-4:]
    assert detail["scopes"] == ["things:read"] and detail["api_ids"] == [api_id]
    assert detail["status"] == "active" and detail["verification_count"] == 0
    storage = open_storage(server.database_url, server.data_dir, isoformat(0))
    try:
        with storage.engine.session(write=False) as session:
            row = session.one("SELECT key_hash FROM api_keys WHERE id = ?", (created["id"],))
    finally:
        storage.close()
    assert row is not None and created["key"] not in row["key_hash"]
    assert row["key_hash"].startswith("hmac-sha256$")
    for expected_count in (1, 2):
        verified = _verify(server, created["key"])
        assert verified.status_code == 200
        CONTRACT.validate_response("POST", "/api/v1/api_keys/verify", 200, verified.json())
        body = verified.json()
        assert body["is_valid"] is True and body["key_id"] == created["id"]
        assert body["scopes"] == ["things:read"] and body["verification_count"] == expected_count
        assert body["last_verified_on"]


def test_unknown_key_does_not_verify(server: KindlingServer) -> None:
    body = _verify(server, "kinde_" + "x" * 43).json()
    assert body["is_valid"] is False and "scopes" not in body
    with server.client() as anonymous:
        missing = anonymous.post("/api/v1/api_keys/verify", json={})
    assert missing.status_code == 400


def test_rotation_replaces_the_key_at_once(server: KindlingServer, http: httpx.Client) -> None:
    api_id, _ = _api_with_scopes(http)
    created = _call(
        http,
        "POST",
        "/api_keys",
        201,
        json={"name": "rotating", "type": "environment", "api_id": api_id},
    ).json()["api_key"]
    rotated = _call(http, "PUT", f"/api_keys/{created['id']}", 201, "/api_keys/{key_id}").json()[
        "api_key"
    ]
    assert rotated["id"] == created["id"] and rotated["key"] != created["key"]
    assert _verify(server, created["key"]).json()["is_valid"] is False
    assert _verify(server, rotated["key"]).json()["is_valid"] is True


def test_revoked_key_fails_verification_and_is_listed_as_revoked(
    server: KindlingServer,
    http: httpx.Client,
) -> None:
    api_id, _ = _api_with_scopes(http)
    created = _call(
        http,
        "POST",
        "/api_keys",
        201,
        json={"name": "revoked", "type": "environment", "api_id": api_id},
    ).json()["api_key"]
    _call(http, "DELETE", f"/api_keys/{created['id']}", 200, "/api_keys/{key_id}")
    body = _verify(server, created["key"]).json()
    assert body["is_valid"] is False and body["status"] == "revoked"
    listed = _call(
        http, "GET", "/api_keys", 200, "/api_keys", params={"status": "revoked", "page_size": 500}
    ).json()
    assert created["id"] in {k["id"] for k in listed["api_keys"]}
    _call(http, "PUT", f"/api_keys/{created['id']}", 400)


def test_list_pages_with_starting_after(http: httpx.Client) -> None:
    api_id, _ = _api_with_scopes(http)
    made = [
        _call(
            http,
            "POST",
            "/api_keys",
            201,
            json={"name": f"page-{i}", "type": "environment", "api_id": api_id},
        ).json()["api_key"]["id"]
        for i in range(3)
    ]
    first = _call(
        http, "GET", "/api_keys", 200, params={"starting_after": made[0], "page_size": 1}
    ).json()
    assert [k["id"] for k in first["api_keys"]] == [made[1]] and first["has_more"] is True
    _call(http, "GET", "/api_keys", 400, params={"status": "sleeping"})
    _call(http, "GET", "/api_keys", 400, params={"starting_after": "api_key_nope"})


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "environment"}, "NAME_REQUIRED"),
        ({"name": "x", "type": "robot"}, "INVALID_TYPE"),
        ({"name": "x", "type": "user"}, "USER_ID_REQUIRED"),
        ({"name": "x", "type": "organization"}, "ORG_CODE_REQUIRED"),
        ({"name": "x", "type": "environment", "scope_ids": ["api_scope_nope"]}, "SCOPE_NOT_FOUND"),
    ],
)
def test_invalid_create_is_400_and_writes_nothing(
    http: httpx.Client,
    body: dict[str, Any],
    code: str,
) -> None:
    api_id, _ = _api_with_scopes(http)
    before = len(_call(http, "GET", "/api_keys", 200, params={"page_size": 500}).json()["api_keys"])
    response = _call(http, "POST", "/api_keys", 400, json={"api_id": api_id, **body})
    assert response.json()["errors"][0]["code"] == code
    after = len(_call(http, "GET", "/api_keys", 200, params={"page_size": 500}).json()["api_keys"])
    assert after == before


def test_api_key_endpoints_need_their_scopes(server: KindlingServer) -> None:
    token = server.token(scopes=["read:users"])
    with server.client() as client:
        for method, path in (
            ("GET", "/api_keys"),
            ("POST", "/api_keys"),
            ("GET", "/api_keys/x"),
            ("PUT", "/api_keys/x"),
            ("DELETE", "/api_keys/x"),
        ):
            response = client.request(
                method, "/api/v1" + path, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 403, (method, path)
