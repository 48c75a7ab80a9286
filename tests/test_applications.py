"""Applications, callbacks, API scopes and secret rotation, and what they do to the next token."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from kindling.clock import isoformat
from kindling.context import open_storage
from kindling.platform.ids import hex_id
from tests.contract.contract import load_contract
from tests.support import KindlingServer

CONTRACT = load_contract()


class Api:
    """A Management API client for one server with an all-scopes token."""

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.http = server.client()
        self.http.headers["Authorization"] = f"Bearer {server.token()}"

    def call(
        self, method: str, path: str, expect: int, template: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        response = self.http.request(method, "/api/v1" + path, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        op = CONTRACT.match(method, "/api/v1" + path)
        if 200 <= expect < 300 and op is not None and op.success.get(str(expect)) is None:
            # The spec's 2xx has no body: none is sent, and no JSON content type either.
            assert response.content == b"", response.content
            assert "content-type" not in response.headers, response.headers
        else:
            assert response.headers["content-type"].startswith("application/json")
        if template is not None and 200 <= expect < 300:
            body = response.json() if response.content else None
            CONTRACT.validate_response(method, "/api/v1" + template, expect, body)
        return response


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def _new_app(api: Api, authorize: bool = True) -> dict[str, Any]:
    created = api.call(
        "POST",
        "/applications",
        201,
        "/applications",
        json={"name": f"app-{uuid.uuid4().hex[:8]}", "type": "m2m"},
    ).json()
    app = created["application"]
    if authorize:
        mgmt = next(
            a for a in api.call("GET", "/apis", 200).json()["apis"] if a["is_management_api"]
        )
        api.call(
            "PATCH",
            f"/apis/{mgmt['id']}/applications",
            200,
            json={"applications": [{"id": app["id"]}]},
        )
        scopes = api.call("GET", f"/apis/{mgmt['id']}/scopes", 200).json()["scopes"]
        read_users = next(s for s in scopes if s["key"] == "read:users")
        api.call(
            "POST", f"/apis/{mgmt['id']}/applications/{app['id']}/scopes/{read_users['id']}", 200
        )
    return app


def _token_response(
    server: KindlingServer,
    app: dict[str, Any],
    secret: str | None = None,
    audience: str | None = None,
) -> httpx.Response:
    with server.client() as http:
        return http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": secret or app["client_secret"],
                "audience": audience or server.audience,
            },
        )


def test_update_application_changes_name_and_settings(api: Api) -> None:
    app = _new_app(api, authorize=False)
    api.call(
        "PATCH",
        f"/applications/{app['id']}",
        200,
        json={
            "name": "Renamed",
            "login_uri": "https://app.example.com/login",
            "homepage_uri": "https://app.example.com",
            "is_ask_for_name": True,
            "redirect_uris": ["https://app.example.com/cb"],
            "logout_uris": ["https://app.example.com"],
        },
    )
    got = api.call(
        "GET", f"/applications/{app['id']}", 200, "/applications/{application_id}"
    ).json()["application"]
    assert got["name"] == "Renamed" and got["is_ask_for_name"] is True
    assert got["login_uri"] == "https://app.example.com/login"
    assert got["has_cancel_button"] is False
    urls = api.call(
        "GET",
        f"/applications/{app['id']}/auth_redirect_urls",
        200,
        "/applications/{app_id}/auth_redirect_urls",
    ).json()
    assert urls == {"redirect_urls": ["https://app.example.com/cb"]}


def test_update_application_rejects_bad_types_and_writes_nothing(api: Api) -> None:
    app = _new_app(api, authorize=False)
    response = api.call(
        "PATCH",
        f"/applications/{app['id']}",
        400,
        json={"name": "Changed", "is_ask_for_name": "yes"},
    )
    assert response.json()["errors"][0]["code"] == "INVALID_IS_ASK_FOR_NAME"
    got = api.call("GET", f"/applications/{app['id']}", 200).json()["application"]
    assert got["name"] == app.get("name", got["name"]) and got["name"] != "Changed"


def _new_role(api: Api) -> str:
    key = f"access_{uuid.uuid4().hex[:8]}"
    created = api.call("POST", "/roles", 201, json={"name": f"Role {key}", "key": key})
    return str(created.json()["role"]["id"])


def _application(api: Api, app_id: str) -> dict[str, Any]:
    got = api.call("GET", f"/applications/{app_id}", 200, "/applications/{application_id}")
    application: dict[str, Any] = got.json()["application"]
    return application


def _error_code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["code"])


def test_m2m_applications_take_no_access_roles_and_no_access_control(api: Api) -> None:
    """Kinde: access roles and access control are for front-end, back-end and device
    applications; for an M2M application both are a 400 and nothing is written."""
    app = _new_app(api, authorize=False)
    role_id = _new_role(api)
    added = api.call("POST", f"/applications/{app['id']}/access_roles/{role_id}", 400)
    assert _error_code(added) == "APPLICATION_TYPE_NOT_SUPPORTED"
    listed = api.call("GET", f"/applications/{app['id']}/access_roles", 200).json()
    assert (listed["roles"], listed["has_more"]) == ([], False)
    enabled = api.call(
        "PATCH",
        f"/applications/{app['id']}",
        400,
        json={"name": "Renamed", "is_access_control_enabled": True},
    )
    assert _error_code(enabled) == "ACCESS_CONTROL_NOT_SUPPORTED"
    got = _application(api, app["id"])
    assert got["is_access_control_enabled"] is False and got["name"] != "Renamed"
    # Saying it is off is fine.
    api.call("PATCH", f"/applications/{app['id']}", 200, json={"is_access_control_enabled": False})


@pytest.mark.parametrize("kind", ["reg", "spa", "device"])
def test_enabling_access_control_needs_an_allowed_role(api: Api, kind: str) -> None:
    created = api.call(
        "POST", "/applications", 201, json={"name": f"web-{uuid.uuid4().hex[:8]}", "type": kind}
    ).json()["application"]
    app_id = created["id"]
    refused = api.call(
        "PATCH",
        f"/applications/{app_id}",
        400,
        json={"name": "Renamed", "is_access_control_enabled": True},
    )
    assert _error_code(refused) == "ACCESS_ROLES_REQUIRED"
    got = _application(api, app_id)
    assert got["is_access_control_enabled"] is False and got["name"] != "Renamed"
    role_id = _new_role(api)
    api.call("POST", f"/applications/{app_id}/access_roles/{role_id}", 200)
    api.call(
        "PATCH",
        f"/applications/{app_id}",
        200,
        "/applications/{application_id}",
        json={"is_access_control_enabled": True},
    )
    assert _application(api, app_id)["is_access_control_enabled"] is True


def test_access_roles_come_at_most_100_a_page(api: Api) -> None:
    created = api.call(
        "POST", "/applications", 201, json={"name": f"web-{uuid.uuid4().hex[:8]}", "type": "reg"}
    ).json()["application"]
    path = f"/applications/{created['id']}/access_roles"
    too_many = api.call("GET", path, 400, params={"page_size": 101})
    assert _error_code(too_many) == "PAGE_SIZE_LIMIT_EXCEEDED"
    template = "/applications/{application_id}/access_roles"
    api.call("GET", path, 200, template, params={"page_size": 100})


def test_deleted_application_gets_no_token_and_its_tokens_stop_working(
    server: KindlingServer,
    api: Api,
) -> None:
    app = _new_app(api)
    token = _token_response(server, app).json()["access_token"]
    with server.client() as http:
        before = http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert before.status_code == 200
    api.call("DELETE", f"/applications/{app['id']}", 200, "/applications/{application_id}")
    refused = _token_response(server, app)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    with server.client() as http:
        after = http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401
    api.call("DELETE", f"/applications/{app['id']}", 400)


def test_token_lifetime_change_applies_to_the_next_token(server: KindlingServer, api: Api) -> None:
    app = _new_app(api)
    assert _token_response(server, app).json()["expires_in"] == 86400
    api.call(
        "PATCH",
        f"/applications/{app['id']}/tokens",
        200,
        "/applications/{application_id}/tokens",
        json={"access_token_lifetime": 900},
    )
    body = _token_response(server, app).json()
    assert body["expires_in"] == 900
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900


@pytest.mark.parametrize("value", [0, 59, "900", True, 10**9])
def test_token_lifetime_out_of_range_is_400(api: Api, value: object) -> None:
    app = _new_app(api, authorize=False)
    response = api.call(
        "PATCH", f"/applications/{app['id']}/tokens", 400, json={"access_token_lifetime": value}
    )
    assert response.json()["errors"][0]["code"] == "INVALID_ACCESS_TOKEN_LIFETIME"


def test_callback_and_logout_urls_add_replace_delete(api: Api) -> None:
    app = _new_app(api, authorize=False)
    for path, key in (("auth_redirect_urls", "redirect_urls"), ("auth_logout_urls", "logout_urls")):
        base = f"/applications/{app['id']}/{path}"
        template = "/applications/{app_id}/" + path
        api.call("POST", base, 200, template, json={"urls": ["https://a.example/x", "myapp://cb"]})
        api.call("POST", base, 200, template, json={"urls": ["https://a.example/x"]})
        assert api.call("GET", base, 200, template).json()[key] == [
            "https://a.example/x",
            "myapp://cb",
        ]
        api.call("PUT", base, 200, template, json={"urls": ["https://b.example/y"]})
        assert api.call("GET", base, 200).json()[key] == ["https://b.example/y"]
        api.call("DELETE", base, 200, template, params={"urls": "https://b.example/y"})
        assert api.call("GET", base, 200).json()[key] == []
        bad = api.call("POST", base, 400, json={"urls": ["not a url"]})
        assert bad.json()["errors"][0]["code"] == "INVALID_URL"
        api.call("DELETE", base, 400, params={"urls": "https://never.example"})
        assert api.call("GET", base, 200).json()[key] == []


def test_callbacks_of_unknown_application_are_an_error(api: Api) -> None:
    api.call("GET", "/applications/" + hex_id() + "/auth_redirect_urls", 400)


def _insert_connection(server: KindlingServer) -> str:
    connection_id = "conn_" + hex_id()
    storage = open_storage(server.database_url, server.data_dir, isoformat(0))
    try:
        with storage.engine.session(write=True) as session:
            session.execute(
                "INSERT INTO connections (id, name, display_name, strategy, options, created_on) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    connection_id,
                    "test-conn",
                    "Test connection",
                    "oauth2:google",
                    "{}",
                    isoformat(0),
                ),
            )
    finally:
        storage.close()
    return connection_id


def test_application_connections_enable_list_disable(server: KindlingServer, api: Api) -> None:
    app = _new_app(api, authorize=False)
    connection_id = _insert_connection(server)
    base = f"/applications/{app['id']}/connections"
    api.call(
        "POST",
        f"{base}/{connection_id}",
        200,
        "/applications/{application_id}/connections/{connection_id}",
    )
    listed = api.call("GET", base, 200, "/applications/{application_id}/connections").json()
    assert [c["id"] for c in listed["connections"]] == [connection_id]
    assert listed["has_more"] is False
    api.call(
        "DELETE",
        f"{base}/{connection_id}",
        200,
        "/applications/{application_id}/connections/{connection_id}",
    )
    assert api.call("GET", base, 200).json()["connections"] == []
    api.call("POST", f"{base}/conn_unknown", 400)


def test_api_scopes_read_update_delete_and_token_effect(server: KindlingServer, api: Api) -> None:
    audience = f"https://api-{uuid.uuid4().hex[:8]}.example.com"
    api_id = api.call("POST", "/apis", 200, json={"name": "Orders", "audience": audience}).json()[
        "api"
    ]["id"]
    read_id = api.call(
        "POST", f"/apis/{api_id}/scopes", 200, json={"key": "orders:read", "description": "Read"}
    ).json()["scope"]["id"]
    write_id = api.call("POST", f"/apis/{api_id}/scopes", 200, json={"key": "orders:write"}).json()[
        "scope"
    ]["id"]
    scopes = api.call("GET", f"/apis/{api_id}/scopes", 200, "/apis/{api_id}/scopes").json()
    assert [s["key"] for s in scopes["scopes"]] == ["orders:read", "orders:write"]
    api.call(
        "PATCH",
        f"/apis/{api_id}/scopes/{read_id}",
        200,
        "/apis/{api_id}/scopes/{scope_id}",
        json={"description": "Read orders"},
    )
    one = api.call(
        "GET", f"/apis/{api_id}/scopes/{read_id}", 200, "/apis/{api_id}/scopes/{scope_id}"
    ).json()["scope"]
    assert one == {"id": read_id, "key": "orders:read", "description": "Read orders"}
    app = _new_app(api, authorize=False)
    api.call(
        "PATCH", f"/apis/{api_id}/applications", 200, json={"applications": [{"id": app["id"]}]}
    )
    for scope_id in (read_id, write_id):
        api.call("POST", f"/apis/{api_id}/applications/{app['id']}/scopes/{scope_id}", 200)
    assert _token_response(server, app, audience=audience).json()["scope"] == (
        "orders:read orders:write"
    )
    api.call("DELETE", f"/apis/{api_id}/scopes/{write_id}", 200, "/apis/{api_id}/scopes/{scope_id}")
    assert _token_response(server, app, audience=audience).json()["scope"] == "orders:read"
    api.call("GET", f"/apis/{api_id}/scopes/{write_id}", 400)


def test_deleted_api_refuses_the_next_token(server: KindlingServer, api: Api) -> None:
    audience = f"https://gone-{uuid.uuid4().hex[:8]}.example.com"
    api_id = api.call("POST", "/apis", 200, json={"name": "Gone", "audience": audience}).json()[
        "api"
    ]["id"]
    app = _new_app(api, authorize=False)
    api.call(
        "PATCH", f"/apis/{api_id}/applications", 200, json={"applications": [{"id": app["id"]}]}
    )
    assert _token_response(server, app, audience=audience).status_code == 200
    api.call("DELETE", f"/apis/{api_id}", 200, "/apis/{api_id}")
    refused = _token_response(server, app, audience=audience)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    api.call("GET", f"/apis/{api_id}", 400)


def test_management_api_cannot_be_deleted(api: Api) -> None:
    mgmt = next(a for a in api.call("GET", "/apis", 200).json()["apis"] if a["is_management_api"])
    response = api.call("DELETE", f"/apis/{mgmt['id']}", 400)
    assert response.json()["errors"][0]["code"] == "MANAGEMENT_API_NOT_DELETABLE"


def test_rotated_secret_old_one_works_only_inside_the_window(
    server: KindlingServer,
    api: Api,
) -> None:
    app = _new_app(api)
    response = api.http.post(
        f"/kindling/v1/applications/{app['id']}/rotate_secret", json={"grace_seconds": 600}
    )
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["client_id"] == app["id"] and rotated["client_secret"] != app["client_secret"]
    assert _token_response(server, app).status_code == 200
    assert _token_response(server, app, secret=rotated["client_secret"]).status_code == 200
    # A second rotation with no grace ends every older secret at once.
    again = api.http.post(
        f"/kindling/v1/applications/{app['id']}/rotate_secret", json={"grace_seconds": 0}
    ).json()
    assert _token_response(server, app).status_code == 401
    assert _token_response(server, app, secret=rotated["client_secret"]).status_code == 401
    assert _token_response(server, app, secret=again["client_secret"]).status_code == 200


def test_rotate_secret_needs_update_applications(server: KindlingServer, api: Api) -> None:
    app = _new_app(api, authorize=False)
    token = server.token(scopes=["read:applications"])
    with server.client() as http:
        response = http.post(
            f"/kindling/v1/applications/{app['id']}/rotate_secret",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 403


def test_cli_rotate_secret_keeps_the_old_secret_for_the_grace_window(
    server: KindlingServer,
    api: Api,
) -> None:
    app = _new_app(api)
    result = server.cli("apps", "rotate-secret", app["id"], "--grace", "300", "--json")
    assert result.returncode == 0, result.stderr
    rotated = json.loads(result.stdout)
    assert _token_response(server, app).status_code == 200
    assert _token_response(server, app, secret=rotated["client_secret"]).status_code == 200
    result = server.cli("apps", "rotate-secret", app["id"], "--grace", "0", "--json")
    assert _token_response(server, app, secret=rotated["client_secret"]).status_code == 401
