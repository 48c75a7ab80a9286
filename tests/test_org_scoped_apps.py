"""Organization-scoped M2M applications: tokens carry org_code and reach only their organization."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt

from tests.support import KindlingServer


def _admin(server: KindlingServer) -> httpx.Client:
    http = server.client()
    http.headers["Authorization"] = f"Bearer {server.token()}"
    return http


def _org(http: httpx.Client) -> str:
    response = http.post("/api/v1/organization", json={"name": f"Org {uuid.uuid4().hex[:6]}"})
    assert response.status_code == 200, response.text
    return str(response.json()["organization"]["code"])


def _org_app(server: KindlingServer, http: httpx.Client, org_code: str) -> dict[str, Any]:
    response = http.post(
        "/api/v1/applications", json={"name": "Tenant bot", "type": "m2m", "org_code": org_code}
    )
    assert response.status_code == 201, response.text
    app = response.json()["application"]
    result = server.cli("apps", "authorize", app["id"], "--api", server.audience)
    assert result.returncode == 0, result.stderr
    return dict(app)


def test_org_scoped_token_carries_org_code_and_reaches_only_its_organization(
    server: KindlingServer,
) -> None:
    with _admin(server) as http:
        own, other = _org(http), _org(http)
        app = _org_app(server, http, own)
    token = server.token(client_id=app["client_id"], client_secret=app["client_secret"])
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["org_code"] == own
    with server.client() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        assert http.get("/api/v1/organization", params={"code": own}).status_code == 200
        assert http.get(f"/api/v1/organizations/{own}/users").status_code == 200
        for response in (
            http.get("/api/v1/organization", params={"code": other}),
            http.get(f"/api/v1/organizations/{other}/users"),
            http.get("/api/v1/users"),
            http.get("/api/v1/applications"),
        ):
            assert response.status_code == 403, response.url
            assert response.json()["errors"][0]["code"] == "ORGANIZATION_MISMATCH"


def test_org_scoped_application_needs_an_existing_organization(server: KindlingServer) -> None:
    with _admin(server) as http:
        response = http.post(
            "/api/v1/applications", json={"name": "x", "type": "m2m", "org_code": "org_00000000000"}
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "ORGANIZATION_NOT_FOUND"


def test_deleting_the_organization_deletes_its_scoped_application(server: KindlingServer) -> None:
    """The organization's delete takes its scoped M2M application with it: the token it
    already holds is refused from the next call, its secret gets no new token, and the
    application is gone from the Management API. Other applications keep working."""
    with _admin(server) as http:
        own, other = _org(http), _org(http)
        app = _org_app(server, http, own)
        bystander = _org_app(server, http, other)
    token = server.token(client_id=app["client_id"], client_secret=app["client_secret"])
    kept = server.token(client_id=bystander["client_id"], client_secret=bystander["client_secret"])
    with server.client() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        assert http.get(f"/api/v1/organizations/{own}/users").status_code == 200

    with _admin(server) as http:
        deleted = http.delete(f"/api/v1/organization/{own}")
        assert deleted.status_code == 200, deleted.text
        gone = http.get(f"/api/v1/applications/{app['id']}")
        assert gone.status_code == 400
        assert gone.json()["errors"][0]["code"] == "APPLICATION_NOT_FOUND"
        assert http.get(f"/api/v1/applications/{bystander['id']}").status_code == 200

    with server.client() as http:
        refused = http.get(
            f"/api/v1/organizations/{own}/users", headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 401, refused.text
        assert refused.json()["errors"][0]["code"] == "INVALID_TOKEN"
        minted = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "audience": server.audience,
            },
        )
        assert minted.status_code == 401 and minted.json()["error"] == "invalid_client"
        still = http.get(
            f"/api/v1/organizations/{other}/users", headers={"Authorization": f"Bearer {kept}"}
        )
        assert still.status_code == 200, still.text
