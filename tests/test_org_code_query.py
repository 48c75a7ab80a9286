"""Organization-scoped tokens and operations that name the organization in an ``org_code``
query parameter (``Operation.org_target``).

In Kinde's spec two operations take ``org_code`` in the query, ``GET /api_keys`` and
``GET /connected_apps/auth_url``; each then reads or writes that organization's rows
only. An organization-scoped M2M token (``org_code`` claim) may call them for its own
organization; for another one, or without ``org_code`` (which would widen the call to
every organization), it gets 403 ``ORGANIZATION_MISMATCH``. Real server, both engines.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kindling.web.app import management_operations
from tests.contract.contract import load_contract
from tests.oauth_provider import OAuthProvider
from tests.support import KindlingServer
from tests.test_org_scoped_apps import _admin, _org, _org_app

CONTRACT = load_contract()
BASE = "/api/v1"


def test_the_org_code_query_names_the_organization_exactly_where_the_spec_has_one() -> None:
    """``org_target`` is the ``org_code`` query parameter for every operation of ours whose
    spec operation has one and no path parameter, and for no other operation."""
    ours = {(op.method, op.path): op for op in management_operations()}
    expected = {
        (op.method, op.path.removeprefix(BASE))
        for op in CONTRACT.operations
        if "{" not in op.path
        and any(p.get("in") == "query" and p["name"] == "org_code" for p in op.parameters)
        and (op.method, op.path.removeprefix(BASE)) in ours
    }
    assert expected == {("GET", "/api_keys"), ("GET", "/connected_apps/auth_url")}
    targeted = {key for key, op in ours.items() if op.org_target == ("query", "org_code")}
    assert targeted == expected


@pytest.fixture
def provider() -> Iterator[OAuthProvider]:
    started = OAuthProvider(client_id=f"org-{uuid.uuid4().hex[:8]}").start()
    yield started
    started.stop()


def _mismatch(response: httpx.Response) -> None:
    assert response.status_code == 403, (response.url, response.text)
    assert response.json()["errors"][0]["code"] == "ORGANIZATION_MISMATCH", response.text


def test_an_org_scoped_token_uses_org_code_for_its_own_organization_only(
    server: KindlingServer, provider: OAuthProvider
) -> None:
    ref = f"org-{uuid.uuid4().hex[:10]}"
    with _admin(server) as admin:
        own, other = _org(admin), _org(admin)
        app = _org_app(server, admin, own)
        api = admin.post(
            BASE + "/apis", json={"name": "Keys", "audience": f"https://{ref}.example.com"}
        )
        assert api.status_code == 200, api.text
        keys: dict[str, Any] = {}
        for org in (own, other):
            created = admin.post(
                BASE + "/api_keys",
                json={
                    "name": f"key {org}",
                    "type": "organization",
                    "org_code": org,
                    "api_id": api.json()["api"]["id"],
                },
            )
            assert created.status_code == 201, created.text
            keys[org] = created.json()["api_key"]["id"]
        defined = admin.post("/kindling/v1/connected_apps/providers", json=provider.definition(ref))
        assert defined.status_code == 201, defined.text
        user = admin.post(
            BASE + "/user",
            json={"identities": [{"type": "email", "details": {"email": f"{ref}@example.com"}}]},
        ).json()["id"]
    token = server.token(client_id=app["client_id"], client_secret=app["client_secret"])
    with server.client() as http:
        http.headers["Authorization"] = f"Bearer {token}"

        # Its own organization: answered, and only that organization's rows.
        listed = http.get(BASE + "/api_keys", params={"org_code": own})
        assert listed.status_code == 200, listed.text
        assert [k["id"] for k in listed.json()["api_keys"]] == [keys[own]]
        started = http.get(
            BASE + "/connected_apps/auth_url", params={"key_code_ref": ref, "org_code": own}
        )
        assert started.status_code == 200, started.text
        assert started.json()["url"].startswith(provider.authorization_endpoint)

        # Another organization, or none (every organization's keys; a user's session).
        _mismatch(http.get(BASE + "/api_keys", params={"org_code": other}))
        _mismatch(http.get(BASE + "/api_keys"))
        _mismatch(http.get(BASE + "/api_keys", params={"user_id": user}))
        _mismatch(
            http.get(
                BASE + "/connected_apps/auth_url", params={"key_code_ref": ref, "org_code": other}
            )
        )
        _mismatch(
            http.get(
                BASE + "/connected_apps/auth_url", params={"key_code_ref": ref, "user_id": user}
            )
        )
        # A repeated org_code is refused before confinement looks at it (never "the
        # first one counts").
        repeated = http.get(BASE + "/api_keys", params=[("org_code", own), ("org_code", other)])
        assert repeated.status_code == 400, repeated.text
        # With a path parameter the path names something else: org_code confines nothing.
        _mismatch(http.get(f"/kindling/v1/users/{user}/feature_flags", params={"org_code": own}))
