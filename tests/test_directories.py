"""SCIM directories over HTTP on both engines: contract, scopes, the token, validation.

The bearer token (``secret_token``) is in the create's answer and nowhere else: not in
reads, listings or the update's answer, not in the outbox, and the database holds only
its keyed hash. An organization has one directory (409 ``DIRECTORY_EXISTS``), linked to
one of its enabled enterprise connections. Declared 404s answer ``error_response``
(``errors`` is a list), as the spec gives these operations. Bad input is a 400 with a
specific code that writes nothing.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kindling.clock import isoformat
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.resources.directories import routes as directory_routes
from tests.support import KindlingServer
from tests.test_roles import BASE, CONTRACT, Api, count, database, token_for, uid

ITEM = "/directories/{directory_id}"


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def seed_connection(server: KindlingServer, strategy: str, display_name: str | None) -> str:
    """A connection row (the Connections API may not be served): its id."""
    connection_id = "conn_" + uuid.uuid4().hex
    with database(server) as session:
        session.execute(
            "INSERT INTO connections (id, name, display_name, strategy, options, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (connection_id, f"conn-{uid()}", display_name, strategy, "{}", isoformat(0)),
        )
    return connection_id


def org_with(api: Api, *strategies: str) -> tuple[str, list[str]]:
    """A new organization with one enabled connection per strategy: (code, connection ids)."""
    created = api.ok("POST", "/organization", json={"name": f"SCIM org {uid()}"})
    code = str(created["organization"]["code"])
    connections = []
    for strategy in strategies:
        connection_id = seed_connection(api.server, strategy, f"{strategy} display")
        enabled = api.request("POST", f"/organizations/{code}/connections/{connection_id}")
        assert enabled.status_code == 200, enabled.text
        connections.append(connection_id)
    return code, connections


def create(api: Api, org_code: str, **body: Any) -> dict[str, Any]:
    payload = {"org_code": org_code, "directory_name": "Production", "provider_code": "okta"}
    created = api.ok("POST", "/directories", json={**payload, **body})
    assert created["code"] == "DIRECTORY_CREATED", created
    directory: dict[str, Any] = created["directory"]
    return directory


def get(api: Api, directory_id: str) -> dict[str, Any]:
    body = api.ok("GET", ITEM, f"/directories/{directory_id}")
    directory: dict[str, Any] = body["directory"]
    return directory


def directory_rows(server: KindlingServer) -> int:
    with database(server) as session:
        return count(session, "SELECT COUNT(*) AS n FROM directories")


# --- the routes versus the contract ---------------------------------------------------

EXPECTED = {
    ("GET", "/directories"),
    ("POST", "/directories"),
    ("GET", ITEM),
    ("PATCH", ITEM),
    ("DELETE", ITEM),
}


def test_routes_match_the_contract() -> None:
    ops = directory_routes.router.operations
    assert {(op.method, op.path) for op in ops} == EXPECTED and len(ops) == len(EXPECTED)
    spec = {
        (op.method, op.path.removeprefix(BASE))
        for op in CONTRACT.operations
        if op.tag == "Directories"
    }
    assert spec == EXPECTED
    for op in ops:
        found = CONTRACT.find(op.method, BASE + op.path)
        assert op.scope == found.scope and op.scope.endswith(":scim_directories"), op
        assert (op.status,) == found.success_codes, op
        assert op.operation_id == found.operation_id, op
        assert op.body == (found.request_body is not None), op
        declared = {p["name"] for p in found.parameters if p["in"] == "query"}
        assert {p.name for p in op.query} == declared, op
        assert op.declared_errors == ({404} if "{" in op.path else {409}) & set(
            found.error_codes
        ), op


@pytest.mark.parametrize(
    "op", directory_routes.router.operations, ids=lambda op: f"{op.method} {op.path}"
)
def test_operation_needs_its_scope(server: KindlingServer, api: Api, op: Any) -> None:
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != op.scope])
    code, _ = org_with(api, "saml:custom")
    made = create(api, org_with(api, "saml:custom")[0])
    body = {"org_code": code, "directory_name": "Nope", "provider_code": "okta"}
    kwargs: dict[str, Any] = {"json": body} if op.body else {}
    path = BASE + op.path.replace("{directory_id}", made["id"])
    before = directory_rows(server)
    response = api.http.request(
        op.method, path, headers={"Authorization": f"Bearer {narrow}"}, **kwargs
    )
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["code"] == "INSUFFICIENT_SCOPE"
    assert f'scope="{op.scope}"' in response.headers["www-authenticate"]
    response = api.http.request(op.method, path, headers={"Authorization": ""}, **kwargs)
    assert response.status_code == 401, response.text
    assert directory_rows(server) == before
    assert get(api, made["id"])["directory_name"] == "Production"


# --- the lifecycle --------------------------------------------------------------------


def test_directory_lifecycle_and_the_token_shown_once(api: Api, server: KindlingServer) -> None:
    code, (connection,) = org_with(api, "saml:okta")
    response = api.request(
        "POST",
        "/directories",
        json={"org_code": code, "directory_name": "Okta sync", "provider_code": "okta"},
    )
    assert response.status_code == 201, response.text
    made = response.json()["directory"]
    token = made["secret_token"]
    assert token.startswith("kstkn_") and len(token) == 70
    assert made["id"].startswith("directory_") and made["directory_endpoint_id"].startswith("ksde_")
    assert (made["status"], made["organization_code"], made["directory_name"]) == (
        "Pending",
        code,
        "Okta sync",
    )
    assert made["enterprise_connection_id"] == connection
    assert made["enterprise_connection_name"] == "saml:okta display"
    for field in ("last_sync_started_at", "last_sync_completed_at", "last_sync_error"):
        assert made[field] is None

    shown = get(api, made["id"])
    assert "secret_token" not in shown
    assert shown == {k: v for k, v in made.items() if k != "secret_token"}
    page = api.ok("GET", "/directories", params={"organization_code": code})
    assert page["directories"] == [shown] and page["has_more"] is False

    updated = api.ok(
        "PATCH", ITEM, f"/directories/{made['id']}", json={"directory_name": "Renamed"}
    )
    assert updated["code"] == "DIRECTORY_UPDATED"
    assert updated["directory"] == {**shown, "directory_name": "Renamed"}
    assert get(api, made["id"])["directory_name"] == "Renamed"

    answers = [
        api.request("GET", f"/directories/{made['id']}").text,
        api.request("GET", "/directories", params={"page_size": 500}).text,
        updated.__repr__(),
    ]
    assert all(token not in text for text in answers)
    with database(server) as session:
        row = session.one("SELECT * FROM directories WHERE id = ?", (made["id"],))
        events = session.all("SELECT data FROM outbox WHERE type LIKE 'directory.%'")
    assert row is not None and row["token_hash"].startswith("hmac-sha256$v1$")
    assert all(token not in str(value) for value in dict(row).values())
    assert all(token not in event["data"] for event in events)
    assert all(row["token_hash"] not in event["data"] for event in events)
    assert token not in server.output

    deleted = api.ok("DELETE", ITEM, f"/directories/{made['id']}")
    assert deleted["code"] == "DIRECTORY_DELETED" and deleted["directory_id"] == made["id"]
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"directory_name": "x"}} if method == "PATCH" else {}
        response = api.request(method, f"/directories/{made['id']}", **kwargs)
        assert response.status_code == 404, response.text
        # The spec gives these 404s the error_response body: errors is a list.
        assert response.json() == {
            "errors": [{"code": "DIRECTORY_NOT_FOUND", "message": "Directory not found"}]
        }
    # The organization may have a directory again.
    create(api, code)


def test_one_directory_per_organization(api: Api, server: KindlingServer) -> None:
    code, _ = org_with(api, "saml:custom")
    create(api, code)
    before = directory_rows(server)
    api.error(
        "POST",
        "/directories",
        "DIRECTORY_EXISTS",
        status=409,
        json={"org_code": code, "directory_name": "Second", "provider_code": "rippling"},
    )
    assert directory_rows(server) == before


def test_concurrent_creates_for_one_organization_make_one_directory(
    api: Api, server: KindlingServer
) -> None:
    code, _ = org_with(api, "saml:custom")
    statuses: list[int] = []
    barrier = threading.Barrier(5)

    def attempt() -> None:
        with server.client() as http:
            barrier.wait()
            response = http.post(
                BASE + "/directories",
                json={"org_code": code, "directory_name": "Race", "provider_code": "okta"},
                headers={"Authorization": f"Bearer {token_for(server)}"},
            )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 4, statuses
    listed = api.ok("GET", "/directories", params={"organization_code": code})["directories"]
    assert len(listed) == 1


def test_the_enterprise_connection_is_chosen_or_required(api: Api) -> None:
    code, (_, first, second) = org_with(api, "oauth2:google", "saml:okta", "wsfed:azure_ad")
    body = {"org_code": code, "directory_name": "D", "provider_code": "entra_id_azure_ad"}
    api.error("POST", "/directories", "ENTERPRISE_CONNECTION_REQUIRED", json=body)
    api.error(
        "POST",
        "/directories",
        "INVALID_ENTERPRISE_CONNECTION",
        json={**body, "enterprise_connection_id": "conn_" + uuid.uuid4().hex},
    )
    made = create(api, code, enterprise_connection_id=second)
    assert made["enterprise_connection_id"] == second != first
    social_only, (social,) = org_with(api, "oauth2:google")
    api.error(
        "POST",
        "/directories",
        "NO_ENTERPRISE_CONNECTIONS",
        json={**body, "org_code": social_only, "enterprise_connection_id": social},
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"org_code": None}, "ORGANIZATION_REQUIRED"),
        ({"org_code": ""}, "ORGANIZATION_REQUIRED"),
        ({"org_code": "org_00000000000"}, "ORGANIZATION_NOT_FOUND"),
        ({"org_code": 42}, "INVALID_ORG_CODE"),
        ({"directory_name": None}, "DIRECTORY_NAME_REQUIRED"),
        ({"directory_name": "  "}, "DIRECTORY_NAME_REQUIRED"),
        ({"directory_name": "d" * 129}, "DIRECTORY_NAME_TOO_LONG"),
        ({"directory_name": False}, "INVALID_DIRECTORY_NAME"),
        ({"provider_code": None}, "PROVIDER_CODE_REQUIRED"),
        ({"provider_code": "azure"}, "INVALID_PROVIDER"),
        ({"enterprise_connection_id": 5}, "INVALID_ENTERPRISE_CONNECTION"),
    ],
)
def test_invalid_create_writes_nothing(
    api: Api, server: KindlingServer, body: dict[str, Any], code: str
) -> None:
    org_code, _ = org_with(api, "saml:custom")
    payload = {"org_code": org_code, "directory_name": "D", "provider_code": "okta", **body}
    before = directory_rows(server)
    api.error("POST", "/directories", code, json=payload)
    assert directory_rows(server) == before


def test_bad_bodies_write_nothing(api: Api, server: KindlingServer) -> None:
    before = directory_rows(server)
    for content, code in ((b"", "BODY_REQUIRED"), (b"[]", "INVALID_BODY"), (b"{", "INVALID_JSON")):
        response = api.request(
            "POST", "/directories", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["code"] == code
    assert directory_rows(server) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"directory_name": None}, "NO_FIELDS_TO_UPDATE"),
        ({"directory_name": ""}, "DIRECTORY_NAME_REQUIRED"),
        ({"directory_name": "d" * 129}, "DIRECTORY_NAME_TOO_LONG"),
        ({"directory_name": ["x"]}, "INVALID_DIRECTORY_NAME"),
    ],
)
def test_invalid_update_changes_nothing(api: Api, body: dict[str, Any], code: str) -> None:
    made = create(api, org_with(api, "saml:custom")[0])
    api.error("PATCH", f"/directories/{made['id']}", code, json=body)
    assert get(api, made["id"])["directory_name"] == "Production"


def test_listing_pages_by_starting_after(api: Api) -> None:
    made = [create(api, org_with(api, "saml:custom")[0])["id"] for _ in range(4)]
    body = api.ok("GET", "/directories", params={"page_size": 2, "starting_after": made[0]})
    assert [d["id"] for d in body["directories"]] == made[1:3] and body["has_more"] is True
    assert all("secret_token" not in d for d in body["directories"])
    body = api.ok("GET", "/directories", params={"page_size": 2, "starting_after": made[2]})
    assert [d["id"] for d in body["directories"]] == made[3:] and body["has_more"] is False
    # Without page_size a page holds up to 50 (Kinde's default here).
    body = api.ok("GET", "/directories")
    assert len(body["directories"]) <= 50
    if body["has_more"]:
        assert len(body["directories"]) == 50
    for params, code in (
        ({"page_size": "0"}, "INVALID_PAGE_SIZE"),
        ({"page_size": "ten"}, "INVALID_PAGE_SIZE"),
        ({"page_size": "501"}, "PAGE_SIZE_LIMIT_EXCEEDED"),
        ({"starting_after": "directory_unknown"}, "INVALID_STARTING_AFTER"),
    ):
        api.error("GET", "/directories", code, params=params)


def test_deleting_the_organization_deletes_its_directory(api: Api) -> None:
    code, _ = org_with(api, "saml:custom")
    made = create(api, code)
    api.ok("DELETE", "/organization/{org_code}", f"/organization/{code}")
    api.error("GET", f"/directories/{made['id']}", "DIRECTORY_NOT_FOUND", status=404)
    listed = api.ok("GET", "/directories", params={"organization_code": code})
    assert listed["directories"] == []
