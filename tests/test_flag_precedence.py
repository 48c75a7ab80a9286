"""Feature-flag precedence: user > organization > environment > default."""

from __future__ import annotations

import uuid

import httpx

from tests.support import KindlingServer


def _ok(response: httpx.Response) -> dict[str, object]:
    assert response.status_code in (200, 201), response.text
    return response.json() if response.content else {}


def test_user_override_beats_organization_beats_environment_beats_default(
    server: KindlingServer,
) -> None:
    key = f"flag_{uuid.uuid4().hex[:10]}"
    with server.client() as http:
        http.headers["Authorization"] = f"Bearer {server.token()}"
        _ok(
            http.post(
                "/api/v1/feature_flags",
                json={
                    "name": "Beta",
                    "key": key,
                    "type": "str",
                    "default_value": "default",
                    "allow_override_level": "usr",
                },
            )
        )
        org = str(
            _ok(http.post("/api/v1/organization", json={"name": "Flags Org"}))["organization"][
                "code"
            ]
        )  # type: ignore[index]
        user = str(
            _ok(
                http.post(
                    "/api/v1/user",
                    json={
                        "identities": [
                            {"type": "email", "details": {"email": f"{key}@example.com"}}
                        ]
                    },
                )
            )["id"]
        )

        def seen(org_code: str | None = None) -> str:
            params = {"org_code": org_code} if org_code else None
            body = _ok(http.get(f"/kindling/v1/users/{user}/feature_flags", params=params))
            return str(body["feature_flags"][key]["value"])  # type: ignore[index]

        assert seen() == "default" and seen(org) == "default"
        _ok(http.patch(f"/api/v1/environment/feature_flags/{key}", json={"value": "env"}))
        assert seen() == "env" and seen(org) == "env"
        _ok(http.patch(f"/api/v1/organizations/{org}/feature_flags/{key}", params={"value": "org"}))
        assert seen() == "env" and seen(org) == "org"
        _ok(http.patch(f"/api/v1/users/{user}/feature_flags/{key}", params={"value": "user"}))
        assert seen() == "user" and seen(org) == "user"
        org_view = _ok(http.get(f"/api/v1/organizations/{org}/feature_flags"))
        assert org_view["feature_flags"][key]["value"] == "org"  # type: ignore[index]
        missing = http.get("/kindling/v1/users/kp_0/feature_flags")
        assert missing.status_code == 400
        assert missing.json()["errors"][0]["code"] == "USER_NOT_FOUND"
