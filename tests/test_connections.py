"""Connections over HTTP on both engines: contract, scopes, secrets, PATCH and PUT, errors.

Every operation is checked against the contract (exact 2xx, body schema, scope,
operation id) and refused without its scope. The write-only ``client_secret`` and
``saml_signing_private_key`` never appear in any answer, and are not stored in clear.
Bad input is a 400 with a specific code and writes nothing. A connection created
here can be enabled on an application and an organization, listed there and removed,
and deleting it removes those enablements.

The servers are shared by the whole session: names are unique and listings are
filtered by a per-test home realm domain.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.resources.connections import routes as connections_routes
from tests.support import KindlingServer
from tests.test_roles import BASE, CONTRACT, Api, count, database, token_for, uid

SECRET = "never-shown-client-secret-" + "7" * 8
PRIVATE_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
)
ONE = "/connections/{connection_id}"


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def shown(response: Any, method: str, template: str, status: int) -> dict[str, Any]:
    """The answer: the exact status, no secret in its text, valid for the contract."""
    assert response.status_code == status, response.text
    assert SECRET not in response.text and "PRIVATE KEY" not in response.text
    body: dict[str, Any] = response.json()
    CONTRACT.validate_response(method, BASE + template, status, body)
    return body


def create(api: Api, **body: Any) -> str:
    payload = {
        "name": f"google-{uid()}",
        "display_name": "Google",
        "strategy": "oauth2:google",
        "options": {"client_id": "my-client", "client_secret": SECRET, "is_trusted": True},
        **body,
    }
    created = shown(api.request("POST", "/connections", json=payload), "POST", "/connections", 201)
    assert created["code"] == "CONNECTION_CREATED"
    return str(created["connection"]["id"])


def get(api: Api, connection_id: str) -> dict[str, Any]:
    body = shown(api.request("GET", f"/connections/{connection_id}"), "GET", ONE, 200)
    assert body["code"] == "OK"
    connection: dict[str, Any] = body["connection"]
    return connection


def connection_rows(server: KindlingServer) -> int:
    with database(server) as session:
        return count(session, "SELECT COUNT(*) AS n FROM connections")


def stored_row(server: KindlingServer, connection_id: str) -> str:
    """The stored row, every column as text (bytes decoded leniently)."""
    with database(server) as session:
        row = session.one("SELECT * FROM connections WHERE id = ?", (connection_id,))
    assert row is not None
    return " ".join(
        bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v)
        for v in dict(row).values()
    )


# --- the routes versus the contract ---------------------------------------------------

EXPECTED = {
    ("GET", "/connections"),
    ("POST", "/connections"),
    ("GET", ONE),
    ("PATCH", ONE),
    ("PUT", ONE),
    ("DELETE", ONE),
}


def test_routes_match_the_contract() -> None:
    ops = connections_routes.router.operations
    assert {(op.method, op.path) for op in ops} == EXPECTED and len(ops) == len(EXPECTED)
    spec = {
        (op.method, op.path.removeprefix(BASE))
        for op in CONTRACT.operations
        if op.tag == "Connections"
    }
    assert spec == EXPECTED
    for op in ops:
        found = CONTRACT.find(op.method, BASE + op.path)
        assert op.scope == found.scope, op
        assert (op.status,) == found.success_codes, op
        assert op.operation_id == found.operation_id, op
        assert op.body == (found.request_body is not None), op
        declared = {p["name"] for p in found.parameters if p["in"] == "query"}
        assert {p.name for p in op.query} == declared, op
        # Only PATCH, PUT and DELETE declare a 404; GET answers an unknown id with 400.
        assert op.declared_errors == (
            frozenset({404}) if op.method in ("PATCH", "PUT", "DELETE") else frozenset()
        ), op


@pytest.mark.parametrize(
    "op", connections_routes.router.operations, ids=lambda op: f"{op.method} {op.path}"
)
def test_operation_needs_its_scope(server: KindlingServer, api: Api, op: Any) -> None:
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != op.scope])
    name = f"forbidden-{uid()}"
    kwargs: dict[str, Any] = (
        {"json": {"name": name, "strategy": "oauth2:google"}} if op.body else {}
    )
    path = BASE + op.path.replace("{connection_id}", "conn_" + "0" * 32)
    before = connection_rows(server)
    response = api.http.request(
        op.method, path, headers={"Authorization": f"Bearer {narrow}"}, **kwargs
    )
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["code"] == "INSUFFICIENT_SCOPE"
    assert f'scope="{op.scope}"' in response.headers["www-authenticate"]
    response = api.http.request(op.method, path, headers={"Authorization": ""}, **kwargs)
    assert response.status_code == 401, response.text
    assert connection_rows(server) == before  # refused calls wrote nothing


# --- create and read; secrets ---------------------------------------------------------------


def test_create_get_and_list_never_show_the_secret(server: KindlingServer, api: Api) -> None:
    domain = f"{uid()}.example"
    connection_id = create(api, options={"client_id": "c", "client_secret": SECRET})
    saml_id = create(
        api,
        strategy="saml:okta",
        display_name="Okta",
        options={
            "home_realm_domains": [f"@{domain}"],
            "saml_entity_id": "https://idp.example",
            "saml_signing_private_key": PRIVATE_KEY,
            "name_id_format": "Email address",
        },
    )
    assert connection_id.startswith("conn_") and len(connection_id) == 37
    assert get(api, connection_id) == {
        "id": connection_id,
        "name": get(api, connection_id)["name"],
        "display_name": "Google",
        "strategy": "oauth2:google",
        "options": {"client_id": "c"},
    }
    saml = get(api, saml_id)
    assert saml["options"] == {
        "home_realm_domains": [f"@{domain}"],
        "saml_entity_id": "https://idp.example",
        "name_id_format": "Email address",
    }
    listed = api.request("GET", "/connections", params={"page_size": 500})
    assert listed.status_code == 200
    assert SECRET not in listed.text and "PRIVATE KEY" not in listed.text
    body = api.ok("GET", "/connections", params={"home_realm_domain": domain.upper()})
    assert body["has_more"] is False
    assert body["connections"] == [
        {
            "id": saml_id,
            "name": saml["name"],
            "display_name": "Okta",
            "strategy": "saml:okta",
            "connection": {
                "id": saml_id,
                "name": saml["name"],
                "display_name": "Okta",
                "strategy": "saml:okta",
            },
        }
    ]
    # Stored sealed: the database holds neither secret in clear.
    assert SECRET not in stored_row(server, connection_id)
    assert "PRIVATE KEY" not in stored_row(server, saml_id)


def test_unknown_connection_is_400_on_get_and_404_where_the_spec_declares_it(api: Api) -> None:
    missing = "conn_" + "f" * 32
    response = api.request("GET", f"/connections/{missing}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "CONNECTION_NOT_FOUND"
    for method, kwargs in (
        ("PATCH", {"json": {"name": "x"}}),
        ("PUT", {"json": {"name": "x"}}),
        ("DELETE", {}),
    ):
        response = api.request(method, f"/connections/{missing}", **kwargs)
        assert response.status_code == 404, response.text
        # Kinde's not_found_response: ``errors`` is one object.
        assert response.json() == {
            "errors": {"code": "CONNECTION_NOT_FOUND", "message": "Connection not found"}
        }


# --- bad input: 400, a specific code, nothing written ---------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"strategy": "oauth2:google"}, "NAME_REQUIRED"),
        ({"name": 5, "strategy": "oauth2:google"}, "INVALID_NAME"),
        ({"name": "n"}, "STRATEGY_REQUIRED"),
        ({"name": "n", "strategy": "enterprise:okta"}, "INVALID_STRATEGY"),
        ({"name": "n", "strategy": "oauth2:google", "options": "x"}, "INVALID_OPTIONS"),
        (
            {"name": "n", "strategy": "oauth2:google", "options": {"client_secret": True}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "saml:custom", "options": {"protocol_binding": "SOAP"}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "options": {"entra_id_domain": "x"}},
            "INVALID_OPTIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:github", "organization_code": "org_123"},
            "ORGANIZATION_CODE_NOT_ALLOWED",
        ),
        (
            {"name": "n", "strategy": "saml:custom", "organization_code": "org_00000000000"},
            "ORGANIZATION_NOT_FOUND",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "enabled_applications": [{"id": "x"}]},
            "INVALID_ENABLED_APPLICATIONS",
        ),
        (
            {"name": "n", "strategy": "oauth2:google", "enabled_applications": ["0" * 32]},
            "APPLICATION_NOT_FOUND",
        ),
    ],
)
def test_bad_create_is_400_with_its_code_and_writes_nothing(
    server: KindlingServer, api: Api, body: dict[str, Any], code: str
) -> None:
    before = connection_rows(server)
    response = api.request("POST", "/connections", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["code"] == code
    assert connection_rows(server) == before


def test_a_body_that_is_not_json_is_refused(server: KindlingServer, api: Api) -> None:
    before = connection_rows(server)
    for content, media, code in (
        (b"{not json", "application/json", "INVALID_JSON"),
        (b"[]", "application/json", "INVALID_BODY"),
        (b"name=x", "application/x-www-form-urlencoded", "INVALID_CONTENT_TYPE"),
    ):
        response = api.request(
            "POST", "/connections", content=content, headers={"Content-Type": media}
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["code"] == code
    assert connection_rows(server) == before


def test_bad_patch_and_put_change_nothing(api: Api) -> None:
    connection_id = create(api)
    before = get(api, connection_id)
    for method, body, code in (
        ("PATCH", {}, "NO_FIELDS_TO_UPDATE"),
        ("PATCH", {"options": {"client_id": 1}}, "INVALID_OPTIONS"),
        ("PATCH", {"options": {"saml_entity_id": "x"}}, "INVALID_OPTIONS"),
        ("PATCH", {"enabled_applications": ["0" * 32]}, "APPLICATION_NOT_FOUND"),
        ("PUT", {"display_name": "no name"}, "NAME_REQUIRED"),
        ("PUT", {"name": "n", "options": []}, "INVALID_OPTIONS"),
    ):
        response = api.request(method, f"/connections/{connection_id}", json=body)
        assert response.status_code == 400, (method, body, response.text)
        assert response.json()["errors"][0]["code"] == code
        assert get(api, connection_id) == before


def test_listing_parameters_are_checked(api: Api) -> None:
    first, second = create(api), create(api)
    for params, code in (
        ({"starting_after": first, "ending_before": second}, "TOO_MANY_PARAMETERS"),
        ({"starting_after": "conn_" + "0" * 32}, "INVALID_STARTING_AFTER"),
        ({"ending_before": "conn_" + "0" * 32}, "INVALID_ENDING_BEFORE"),
        ({"page_size": "ten"}, "INVALID_PAGE_SIZE"),
        ({"page_size": 501}, "PAGE_SIZE_LIMIT_EXCEEDED"),
        ({"home_realm_domain": "x" * 300}, "HOME_REALM_DOMAIN_TOO_LONG"),
    ):
        response = api.request("GET", "/connections", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["errors"][0]["code"] == code


def test_list_pages_with_starting_after_and_ending_before(api: Api) -> None:
    domain = f"{uid()}.example"
    ids = [
        create(api, strategy="wsfed:azure_ad", options={"home_realm_domains": [domain]})
        for _ in range(3)
    ]
    params: dict[str, Any] = {"home_realm_domain": domain, "page_size": 2}
    page = api.ok("GET", "/connections", params=params)
    assert ([c["id"] for c in page["connections"]], page["has_more"]) == (ids[:2], True)
    page = api.ok("GET", "/connections", params={**params, "starting_after": ids[1]})
    assert ([c["id"] for c in page["connections"]], page["has_more"]) == (ids[2:], False)
    page = api.ok("GET", "/connections", params={**params, "ending_before": ids[2]})
    assert ([c["id"] for c in page["connections"]], page["has_more"]) == (ids[:2], False)


# --- PATCH merges, PUT replaces -----------------------------------------------------------------


def test_patch_merges_and_put_replaces(server: KindlingServer, api: Api) -> None:
    connection_id = create(api)
    name = get(api, connection_id)["name"]
    body = api.ok(
        "PATCH",
        ONE,
        f"/connections/{connection_id}",
        json={"display_name": "Sign in with Google", "options": {"is_use_custom_domain": True}},
    )
    assert body["code"] == "CONNECTION_UPDATED"
    assert get(api, connection_id) == {
        "id": connection_id,
        "name": name,
        "display_name": "Sign in with Google",
        "strategy": "oauth2:google",
        "options": {"client_id": "my-client", "is_trusted": True, "is_use_custom_domain": True},
    }
    sealed_before = stored_row(server, connection_id)
    assert SECRET not in sealed_before

    # A new secret is accepted (and still never shown); the old one is gone.
    rotated = "rotated-secret-" + uid()
    response = api.request(
        "PATCH", f"/connections/{connection_id}", json={"options": {"client_secret": rotated}}
    )
    assert response.status_code == 200 and rotated not in response.text
    assert rotated not in stored_row(server, connection_id)
    assert rotated not in api.request("GET", f"/connections/{connection_id}").text

    body = api.ok(
        "PUT",
        ONE,
        f"/connections/{connection_id}",
        json={"name": "Replaced", "options": {"client_id": "other"}},
    )
    assert body["code"] == "CONNECTION_UPDATED"
    assert get(api, connection_id) == {
        "id": connection_id,
        "name": "Replaced",
        "strategy": "oauth2:google",
        "options": {"client_id": "other"},
    }
    with database(server) as session:
        row = session.one("SELECT sealed_secrets FROM connections WHERE id = ?", (connection_id,))
    assert row is not None and row["sealed_secrets"] is None  # PUT without one clears it


# --- enabled on applications and organizations ----------------------------------------------------


def test_enable_on_an_application_and_an_organization_then_remove(api: Api) -> None:
    app = api.ok("POST", "/applications", json={"name": f"web-{uid()}", "type": "reg"})[
        "application"
    ]["id"]
    org = api.ok("POST", "/organization", json={"name": f"Org {uid()}"})["organization"]["code"]
    connection_id = create(api)
    connection = get(api, connection_id)
    expected = {k: connection[k] for k in ("id", "name", "display_name", "strategy")}

    app_list_t = "/applications/{application_id}/connections"
    org_list_t = "/organizations/{organization_code}/connections"
    for path in (
        f"/applications/{app}/connections/{connection_id}",
        f"/organizations/{org}/connections/{connection_id}",
    ):
        response = api.request("POST", path)
        assert response.status_code == 200, response.text
    for template, path in (
        (app_list_t, f"/applications/{app}/connections"),
        (org_list_t, f"/organizations/{org}/connections"),
    ):
        listed = api.ok("GET", template, path)
        assert [c["connection"] for c in listed["connections"]] == [expected]
        assert SECRET not in str(listed)

    removed = api.ok(
        "DELETE",
        "/applications/{application_id}/connections/{connection_id}",
        f"/applications/{app}/connections/{connection_id}",
    )
    assert removed["code"] == "CONNECTION_REMOVED"
    removed = api.ok(
        "DELETE",
        "/organizations/{organization_code}/connections/{connection_id}",
        f"/organizations/{org}/connections/{connection_id}",
    )
    assert removed["code"] == "CONNECTION_REMOVED"
    assert api.ok("GET", app_list_t, f"/applications/{app}/connections")["connections"] == []
    assert api.ok("GET", org_list_t, f"/organizations/{org}/connections")["connections"] == []

    # enabled_applications on the connection itself, and deleting it removes enablements.
    api.ok("PATCH", ONE, f"/connections/{connection_id}", json={"enabled_applications": [app]})
    assert (
        api.request("POST", f"/organizations/{org}/connections/{connection_id}").status_code == 200
    )
    listed = api.ok("GET", app_list_t, f"/applications/{app}/connections")
    assert [c["id"] for c in listed["connections"]] == [connection_id]
    api.ok("PUT", ONE, f"/connections/{connection_id}", json={"name": "kept apps?"})
    assert api.ok("GET", app_list_t, f"/applications/{app}/connections")["connections"] == []
    api.ok("PATCH", ONE, f"/connections/{connection_id}", json={"enabled_applications": [app]})
    deleted = api.ok("DELETE", ONE, f"/connections/{connection_id}")
    assert deleted["code"] == "CONNECTION_DELETED"
    assert api.ok("GET", app_list_t, f"/applications/{app}/connections")["connections"] == []
    assert api.ok("GET", org_list_t, f"/organizations/{org}/connections")["connections"] == []
    response = api.request("POST", f"/organizations/{org}/connections/{connection_id}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "CONNECTION_NOT_FOUND"
    response = api.request("POST", f"/applications/{app}/connections/{connection_id}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "CONNECTION_NOT_FOUND"


def test_an_organization_managed_connection(api: Api) -> None:
    org = api.ok("POST", "/organization", json={"name": f"Org {uid()}"})["organization"]["code"]
    connection_id = create(
        api, strategy="oauth2:azure_ad", organization_code=org, options={"client_id": "e"}
    )
    assert get(api, connection_id)["organization_code"] == org
    api.ok("DELETE", "/organization/{org_code}", f"/organization/{org}")
    response = api.request("GET", f"/connections/{connection_id}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "CONNECTION_NOT_FOUND"
