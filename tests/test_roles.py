"""Roles, their permissions, API scopes and system permissions, on both engines.

Every operation is checked against the contract (exact 2xx, body schema, scope,
operation id), refused without its scope, and exercised with bad input (400 with a
specific code and nothing written), unknown ids, pagination and sorting, bulk
all-or-nothing updates, uniqueness under concurrency and delete cascades.

The servers are shared by the whole session: names and keys are unique (uuid) and
listings are walked to find our own rows.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from kindling.clock import isoformat
from kindling.context import open_storage
from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.platform.engine import Session
from kindling.resources.roles import routes as roles_routes
from kindling.resources.roles.service import SYSTEM_PERMISSIONS
from tests.contract.contract import load_contract
from tests.support import KindlingServer, token_for

CONTRACT = load_contract()
BASE = "/api/v1"
UUID_LIKE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def uid() -> str:
    return uuid.uuid4().hex[:12]


class Api:
    """The Management API of one server, with an all-scopes token."""

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.http = server.client()
        self.http.headers["Authorization"] = f"Bearer {token_for(server)}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, BASE + path, **kwargs)

    def ok(self, method: str, template: str, path: str | None = None, **kwargs: Any) -> Any:
        """Call; assert the contract's exact 2xx and a contract-valid body; return the body."""
        response = self.request(method, path or template, **kwargs)
        codes = CONTRACT.find(method, BASE + template).success_codes
        assert response.status_code == codes[0], (method, path, response.text)
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        CONTRACT.validate_response(method, BASE + template, response.status_code, body)
        return body

    def error(
        self, method: str, path: str, code: str, status: int = 400, **kwargs: Any
    ) -> dict[str, Any]:
        """Call; assert Kinde's error_response with this status and code."""
        response = self.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        body: dict[str, Any] = response.json()
        assert set(body) == {"errors"} and isinstance(body["errors"], list), body
        assert body["errors"][0]["code"] == code, body
        assert isinstance(body["errors"][0]["message"], str) and body["errors"][0]["message"]
        return body

    def walk(
        self, template: str, key: str, path: str | None = None, size: int = 50, **params: Any
    ) -> list[dict[str, Any]]:
        """Every item of a ``next_token`` listing, checking page sizes and the contract."""
        items: list[dict[str, Any]] = []
        query = dict(params, page_size=size)
        for _ in range(10_000):
            body = self.ok("GET", template, path, params=query)
            assert len(body[key]) <= size
            items.extend(body[key])
            if body.get("next_token") is None:
                return items
            assert body[key], "a page with a next_token must not be empty"
            query["next_token"] = body["next_token"]
        raise AssertionError("pagination did not end")

    # --- shortcuts ---

    def create_permission(self, name: str | None = None, **extra: Any) -> str:
        body = {"name": name or f"perm {uid()}", "key": f"perm:{uid()}", **extra}
        created = self.ok("POST", "/permissions", json=body)
        return str(created["permission"]["id"])

    def create_role(self, name: str | None = None, key: str | None = None, **extra: Any) -> str:
        body = {"name": name or f"role {uid()}", "key": key or f"role-{uid()}", **extra}
        created = self.ok("POST", "/roles", json=body)
        assert created["code"] == "ROLE_CREATED"
        return str(created["role"]["id"])

    def get_role(self, role_id: str) -> dict[str, Any]:
        role: dict[str, Any] = self.ok("GET", "/roles/{role_id}", f"/roles/{role_id}")["role"]
        return role

    def role_permission_ids(self, role_id: str, **params: Any) -> list[str]:
        items = self.walk(
            "/roles/{role_id}/permissions",
            "permissions",
            f"/roles/{role_id}/permissions",
            **params,
        )
        return [p["id"] for p in items]

    def patch_role_permissions(self, role_id: str, items: list[dict[str, Any]]) -> Any:
        return self.ok(
            "PATCH",
            "/roles/{role_id}/permissions",
            f"/roles/{role_id}/permissions",
            json={"permissions": items},
        )

    def create_api_scope(self, key: str | None = None) -> tuple[str, str]:
        api = self.request(
            "POST", "/apis", json={"name": f"api {uid()}", "audience": f"urn:roles:{uid()}"}
        )
        assert api.status_code == 200, api.text
        api_id = api.json()["api"]["id"]
        scope = self.request(
            "POST",
            f"/apis/{api_id}/scopes",
            json={"key": key or f"read:{uid()}", "description": "A scope"},
        )
        assert scope.status_code == 200, scope.text
        return api_id, scope.json()["scope"]["id"]


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


@contextmanager
def database(server: KindlingServer) -> Iterator[Session]:
    """A direct session on the server's database (either engine), for cascade checks."""
    storage = open_storage(server.database_url, server.data_dir, isoformat(0))
    try:
        with storage.engine.session(write=True) as session:
            yield session
    finally:
        storage.close()


def count(session: Session, sql: str, *params: Any) -> int:
    row = session.one(sql, params)
    assert row is not None
    return int(row["n"])


def add_org_member(server: KindlingServer, api: Api) -> tuple[str, str]:
    """An organization with one member (rows inserted directly); return (org code, user id)."""
    created = api.request(
        "POST",
        "/user",
        json={"identities": [{"type": "email", "details": {"email": f"r-{uid()}@example.com"}}]},
    )
    assert created.status_code == 200, created.text
    user_id = created.json()["id"]
    org_code = "org_" + uuid.uuid4().hex[:11]
    with database(server) as session:
        session.execute(
            "INSERT INTO organizations (code, name, is_default, is_suspended, settings, "
            "created_on) VALUES (?, ?, ?, ?, ?, ?)",
            (org_code, "Roles test org", False, False, "{}", isoformat(0)),
        )
        session.execute(
            "INSERT INTO organization_users (org_code, user_id, joined_on) VALUES (?, ?, ?)",
            (org_code, user_id, isoformat(0)),
        )
    return org_code, user_id


# --- the routes versus the contract ---------------------------------------------------

#: Every Roles operation of the contract except GET /roles/{role_id}/users (not ours).
EXPECTED = {
    ("GET", "/roles"),
    ("POST", "/roles"),
    ("GET", "/roles/{role_id}"),
    ("PATCH", "/roles/{role_id}"),
    ("DELETE", "/roles/{role_id}"),
    ("GET", "/roles/{role_id}/permissions"),
    ("PATCH", "/roles/{role_id}/permissions"),
    ("DELETE", "/roles/{role_id}/permissions/{permission_id}"),
    ("GET", "/roles/{role_id}/scopes"),
    ("POST", "/roles/{role_id}/scopes"),
    ("DELETE", "/roles/{role_id}/scopes/{scope_id}"),
    ("GET", "/roles/{role_id}/system_permissions"),
    ("PATCH", "/roles/{role_id}/system_permissions"),
    ("GET", "/system_permissions"),
}


def test_routes_match_the_contract() -> None:
    ops = roles_routes.router.operations
    assert {(op.method, op.path) for op in ops} == EXPECTED
    assert len(ops) == len(EXPECTED)
    spec_roles = {
        (op.method, op.path.removeprefix(BASE))
        for op in CONTRACT.operations
        if op.tag == "Roles" and op.operation_id != "GetRoleUsers"
    }
    assert spec_roles == EXPECTED
    for op in ops:
        spec = CONTRACT.find(op.method, BASE + op.path)
        assert op.scope == spec.scope, op
        assert (op.status,) == spec.success_codes, op
        assert op.operation_id == spec.operation_id, op
        assert op.body == (spec.request_body is not None), op
        declared = {p["name"] for p in spec.parameters if p["in"] == "query"}
        assert {p.name for p in op.query} == declared, op
        # The spec lists no 404 for these operations: unknown ids are 400.
        assert not op.declared_errors, op


def _concrete(path: str) -> str:
    return (
        path.replace("{role_id}", "00000000-0000-0000-0000-000000000000")
        .replace("{permission_id}", "00000000-0000-0000-0000-000000000001")
        .replace("{scope_id}", "api_scope_0")
    )


@pytest.mark.parametrize(
    "op", roles_routes.router.operations, ids=lambda op: f"{op.method} {op.path}"
)
def test_operation_needs_its_scope(server: KindlingServer, api: Api, op: Any) -> None:
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != op.scope])
    body = {"name": "Scope check", "key": f"scope-check-{uid()}"}
    kwargs: dict[str, Any] = {"json": body} if op.body else {}
    path = BASE + _concrete(op.path)
    response = api.http.request(
        op.method, path, headers={"Authorization": f"Bearer {narrow}"}, **kwargs
    )
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["code"] == "INSUFFICIENT_SCOPE"
    assert f'scope="{op.scope}"' in response.headers["www-authenticate"]
    response = api.http.request(op.method, path, headers={"Authorization": ""}, **kwargs)
    assert response.status_code == 401, response.text
    # With the scope the request reaches the handler (which finds no such role).
    assert api.request(op.method, _concrete(op.path), **kwargs).status_code != 403


def test_forbidden_create_writes_nothing(server: KindlingServer, api: Api) -> None:
    narrow = token_for(server, ["read:roles"])
    key = f"forbidden-{uid()}"
    response = api.http.post(
        BASE + "/roles",
        json={"name": "Forbidden", "key": key},
        headers={"Authorization": f"Bearer {narrow}"},
    )
    assert response.status_code == 403
    api.create_role(key=key)  # the key is still free


# --- roles: create, get, update, delete -------------------------------------------------


def test_role_lifecycle(api: Api) -> None:
    permission_id = api.create_permission()
    key = f"admin-{uid()}"
    created = api.ok(
        "POST",
        "/roles",
        json={
            "name": "Administrator",
            "key": key,
            "description": "Full access to all resources.",
            "is_default_role": True,
            "assignment_permission_id": permission_id,
        },
    )
    assert created["code"] == "ROLE_CREATED" and isinstance(created["message"], str)
    role_id = created["role"]["id"]
    assert set(created["role"]) == {"id"}
    assert re.fullmatch(UUID_LIKE, role_id), role_id

    body = api.ok("GET", "/roles/{role_id}", f"/roles/{role_id}")
    assert body["code"] == "OK"
    assert body["role"] == {
        "id": role_id,
        "key": key,
        "name": "Administrator",
        "description": "Full access to all resources.",
        "is_default_role": True,
    }
    listed = [r for r in api.walk("/roles", "roles", size=500) if r["id"] == role_id]
    assert listed == [body["role"]]

    updated = api.ok(
        "PATCH",
        "/roles/{role_id}",
        f"/roles/{role_id}",
        json={"name": "Admin", "key": key + "-2", "is_default_role": False},
    )
    assert updated["code"] == "ROLE_UPDATED"
    # The description was not sent, so it stays.
    assert api.get_role(role_id) == {
        "id": role_id,
        "key": key + "-2",
        "name": "Admin",
        "description": "Full access to all resources.",
        "is_default_role": False,
    }
    api.ok(
        "PATCH",
        "/roles/{role_id}",
        f"/roles/{role_id}",
        json={"name": "Admin", "key": key + "-2", "description": ""},
    )
    role = api.get_role(role_id)
    assert "description" not in role and role["is_default_role"] is False

    deleted = api.ok("DELETE", "/roles/{role_id}", f"/roles/{role_id}")
    assert deleted["code"] == "ROLE_DELETED"
    api.error("GET", f"/roles/{role_id}", "ROLE_NOT_FOUND")
    api.error("DELETE", f"/roles/{role_id}", "ROLE_NOT_FOUND")
    api.error("PATCH", f"/roles/{role_id}", "ROLE_NOT_FOUND", json={"name": "a", "key": "b"})
    # The key is free again.
    api.create_role(key=key + "-2")


def test_role_without_description_lists_null_and_omits_it_in_detail(api: Api) -> None:
    role_id = api.create_role()
    assert "description" not in api.get_role(role_id)
    listed = next(r for r in api.walk("/roles", "roles", size=500) if r["id"] == role_id)
    assert listed["description"] is None and listed["is_default_role"] is False


def test_role_fields_are_trimmed(api: Api) -> None:
    key = f"trim-{uid()}"
    role_id = api.create_role(name="  Spaced  ", key=f"  {key} ")
    role = api.get_role(role_id)
    assert role["name"] == "Spaced" and role["key"] == key
    api.error("POST", "/roles", "ROLE_KEY_EXISTS", json={"name": "x", "key": key})


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"key": "k"}, "NAME_REQUIRED"),
        ({"name": "   ", "key": "k"}, "NAME_REQUIRED"),
        ({"name": "n"}, "KEY_REQUIRED"),
        ({"name": "n", "key": ""}, "KEY_REQUIRED"),
        ({"name": 5, "key": "k"}, "INVALID_NAME"),
        ({"name": "n", "key": ["k"]}, "INVALID_KEY"),
        ({"name": "x" * 65, "key": "k"}, "NAME_TOO_LONG"),
        ({"name": "n", "key": "k" * 129}, "KEY_TOO_LONG"),
        ({"name": "n", "key": "two words"}, "INVALID_KEY"),
        ({"name": "n", "key": 'quo"te'}, "INVALID_KEY"),
        ({"name": "n\x01", "key": "k"}, "INVALID_NAME"),
        ({"name": "n", "key": "k", "description": "d" * 1001}, "DESCRIPTION_TOO_LONG"),
        ({"name": "n", "key": "k", "description": 3}, "INVALID_DESCRIPTION"),
        ({"name": "n", "key": "k", "is_default_role": "true"}, "INVALID_IS_DEFAULT_ROLE"),
        (
            {"name": "n", "key": "k", "assignment_permission_id": 7},
            "INVALID_ASSIGNMENT_PERMISSION_ID",
        ),
        (
            {"name": "n", "key": "k", "assignment_permission_id": str(uuid.uuid4())},
            "PERMISSION_NOT_FOUND",
        ),
    ],
)
def test_invalid_role_create_writes_nothing(api: Api, body: dict[str, Any], code: str) -> None:
    key = f"invalid-{uid()}"
    if body.get("key") == "k":
        body = dict(body, key=key)
    api.error("POST", "/roles", code, json=body)
    # Nothing was written: the key is still free.
    api.create_role(key=key)


@pytest.mark.parametrize(
    ("content", "code"), [(b"{", "INVALID_JSON"), (b"[]", "INVALID_BODY"), (b"", "NAME_REQUIRED")]
)
def test_role_create_bad_body(api: Api, content: bytes, code: str) -> None:
    api.error("POST", "/roles", code, content=content, headers={"Content-Type": "application/json"})


def test_role_keys_are_unique_and_case_sensitive(api: Api) -> None:
    key = f"Editor-{uid()}"
    first = api.create_role(key=key)
    api.error("POST", "/roles", "ROLE_KEY_EXISTS", json={"name": "Again", "key": key})
    second = api.create_role(key=key.lower())
    assert first != second
    # An update may not take another role's key, and changes nothing when refused.
    api.error("PATCH", f"/roles/{second}", "ROLE_KEY_EXISTS", json={"name": "Renamed", "key": key})
    assert api.get_role(second)["key"] == key.lower()
    assert not api.get_role(second)["name"] == "Renamed"
    # Keeping one's own key is fine.
    api.ok("PATCH", "/roles/{role_id}", f"/roles/{first}", json={"name": "Same", "key": key})


def test_concurrent_creates_of_one_key_make_one_role(api: Api, server: KindlingServer) -> None:
    key = f"race-{uid()}"
    statuses: list[int] = []
    codes: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        with server.client() as http:
            barrier.wait()
            response = http.post(
                BASE + "/roles",
                json={"name": "Race", "key": key},
                headers={"Authorization": f"Bearer {token_for(server)}"},
            )
        statuses.append(response.status_code)
        if response.status_code != 201:
            codes.append(response.json()["errors"][0]["code"])

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [400] * 7, statuses
    assert set(codes) == {"ROLE_KEY_EXISTS"}
    assert [r for r in api.walk("/roles", "roles", size=500) if r["key"] == key]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"key": "k"}, "NAME_REQUIRED"),
        ({"name": "n"}, "KEY_REQUIRED"),
        ({}, "NAME_REQUIRED"),
        ({"name": "n", "key": "k", "is_default_role": 1}, "INVALID_IS_DEFAULT_ROLE"),
        ({"name": "n", "key": "bad key"}, "INVALID_KEY"),
        ({"name": "n", "key": "k", "description": "d" * 1001}, "DESCRIPTION_TOO_LONG"),
        (
            {"name": "n", "key": "k", "assignment_permission_id": str(uuid.uuid4())},
            "PERMISSION_NOT_FOUND",
        ),
        (
            {"name": "n", "key": "k", "assignment_permission_id": ""},
            "INVALID_ASSIGNMENT_PERMISSION_ID",
        ),
    ],
)
def test_invalid_role_update_changes_nothing(api: Api, body: dict[str, Any], code: str) -> None:
    key = f"keep-{uid()}"
    role_id = api.create_role(name="Keep", key=key, description="Kept")
    before = api.get_role(role_id)
    api.error("PATCH", f"/roles/{role_id}", code, json=body)
    assert api.get_role(role_id) == before


def test_assignment_permission_is_set_kept_and_cleared(server: KindlingServer, api: Api) -> None:
    first, second = api.create_permission(), api.create_permission()
    key = f"assign-{uid()}"
    role_id = api.create_role(key=key, assignment_permission_id=first)

    def stored() -> str | None:
        with database(server) as session:
            row = session.one("SELECT assignment_permission_id FROM roles WHERE id = ?", (role_id,))
        assert row is not None
        value: str | None = row["assignment_permission_id"]
        return value

    assert stored() == first
    body = {"name": "n", "key": key}
    api.ok("PATCH", "/roles/{role_id}", f"/roles/{role_id}", json=body)
    assert stored() == first  # absent: no change
    api.ok(
        "PATCH",
        "/roles/{role_id}",
        f"/roles/{role_id}",
        json=dict(body, assignment_permission_id=None),
    )
    assert stored() == first  # null: no change
    api.ok(
        "PATCH",
        "/roles/{role_id}",
        f"/roles/{role_id}",
        json=dict(body, assignment_permission_id=second),
    )
    assert stored() == second
    api.ok(
        "PATCH",
        "/roles/{role_id}",
        f"/roles/{role_id}",
        json=dict(body, assignment_permission_id="NO_PERMISSION_REQUIRED"),
    )
    assert stored() is None
    # Deleting the permission a role requires for assignment unsets the requirement.
    api.ok(
        "PATCH",
        "/roles/{role_id}",
        f"/roles/{role_id}",
        json=dict(body, assignment_permission_id=second),
    )
    api.ok("DELETE", "/permissions/{permission_id}", f"/permissions/{second}")
    assert stored() is None
    assert api.get_role(role_id)["key"] == key


# --- roles: listing -------------------------------------------------------------------


def _make_family(api: Api, size: int = 5) -> tuple[str, list[str]]:
    """Roles named ``<prefix> a``…, with keys in the opposite order; return (prefix, ids)."""
    prefix = f"fam{uid()}"
    ids = []
    for index in range(size):
        letter = "abcdefghij"[index]
        reverse = "abcdefghij"[size - 1 - index]
        ids.append(api.create_role(name=f"{prefix} {letter}", key=f"{prefix}-{reverse}"))
    return prefix, ids


def test_roles_listing_pages_without_duplicates(api: Api) -> None:
    _, ids = _make_family(api, 5)
    everything = api.walk("/roles", "roles", size=500)
    paged = api.walk("/roles", "roles", size=4)
    assert [r["id"] for r in paged] == [r["id"] for r in everything]
    assert len({r["id"] for r in paged}) == len(paged)
    mine = [r["id"] for r in paged if r["id"] in ids]
    assert mine == ids  # creation order by default


@pytest.mark.parametrize(
    ("sort", "expected_order"),
    [("name_asc", False), ("name_desc", True), ("key_asc", True), ("key_desc", False)],
)
def test_roles_sorted_and_paged(api: Api, sort: str, expected_order: bool) -> None:
    _, ids = _make_family(api, 5)
    paged = api.walk("/roles", "roles", size=4, sort=sort)
    everything = api.walk("/roles", "roles", size=500, sort=sort)
    assert [r["id"] for r in paged] == [r["id"] for r in everything]
    assert len({r["id"] for r in paged}) == len(paged)
    mine = [r["id"] for r in paged if r["id"] in ids]
    assert mine == (list(reversed(ids)) if expected_order else ids)
    assert len(paged) == len(api.walk("/roles", "roles", size=500))


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"sort": "created_asc"}, "INVALID_SORT"),
        ({"sort": "id_asc"}, "INVALID_SORT"),
        ({"page_size": "501"}, "PAGE_SIZE_LIMIT_EXCEEDED"),
        ({"page_size": "0"}, "INVALID_PAGE_SIZE"),
        ({"page_size": "ten"}, "INVALID_PAGE_SIZE"),
        ({"next_token": "bm9wZQ"}, "INVALID_NEXT_TOKEN"),
    ],
)
def test_roles_listing_bad_parameters(api: Api, params: dict[str, str], code: str) -> None:
    api.error("GET", "/roles", code, params=params)


def test_roles_next_token_is_bound_to_its_sort(api: Api) -> None:
    _make_family(api, 3)
    body = api.ok("GET", "/roles", params={"page_size": 1, "sort": "name_asc"})
    token = body["next_token"]
    api.error("GET", "/roles", "INVALID_NEXT_TOKEN", params={"next_token": token})
    api.error(
        "GET", "/roles", "INVALID_NEXT_TOKEN", params={"next_token": token, "sort": "key_asc"}
    )
    api.ok("GET", "/roles", params={"next_token": token, "sort": "name_asc"})
    assert api.ok("GET", "/roles", params={"page_size": 500})["roles"]


# --- role permissions --------------------------------------------------------------


def test_role_permissions_add_list_remove(api: Api) -> None:
    role_id = api.create_role()
    names = ["b perm", "a perm", "c perm"]
    perms = [api.create_permission(name=f"{n} {uid()}") for n in names]
    body = api.patch_role_permissions(role_id, [{"id": p} for p in perms])
    assert body["permissions_added"] == perms and body["permissions_removed"] == []
    listed = api.walk(
        "/roles/{role_id}/permissions", "permissions", f"/roles/{role_id}/permissions", size=2
    )
    assert [p["id"] for p in listed] == perms
    assert all(set(p) == {"id", "key", "name"} for p in listed)  # no description given
    by_name = api.role_permission_ids(role_id, sort="name_asc", size=2)
    assert by_name == [perms[1], perms[0], perms[2]]
    assert api.role_permission_ids(role_id, sort="name_desc", size=1) == [
        perms[2],
        perms[0],
        perms[1],
    ]
    assert api.role_permission_ids(role_id, sort="id_asc", size=2) == sorted(perms)
    assert api.role_permission_ids(role_id, sort="id_desc") == sorted(perms, reverse=True)

    # Re-adding is not a change; removing reports what went.
    body = api.patch_role_permissions(
        role_id, [{"id": perms[0]}, {"id": perms[1], "operation": "delete"}]
    )
    assert body["permissions_added"] == [] and body["permissions_removed"] == [perms[1]]
    assert api.role_permission_ids(role_id) == [perms[0], perms[2]]

    removed = api.ok(
        "DELETE",
        "/roles/{role_id}/permissions/{permission_id}",
        f"/roles/{role_id}/permissions/{perms[0]}",
    )
    assert removed["code"] == "PERMISSION_REMOVED"
    assert api.role_permission_ids(role_id) == [perms[2]]
    api.error("DELETE", f"/roles/{role_id}/permissions/{perms[0]}", "ROLE_PERMISSION_NOT_FOUND")
    api.error("DELETE", f"/roles/{role_id}/permissions/{uuid.uuid4()}", "PERMISSION_NOT_FOUND")
    api.error("DELETE", f"/roles/{uuid.uuid4()}/permissions/{perms[2]}", "ROLE_NOT_FOUND")


def test_role_permissions_description_is_shown(api: Api) -> None:
    role_id = api.create_role()
    permission_id = api.create_permission(description="Lets you read")
    api.patch_role_permissions(role_id, [{"id": permission_id}])
    listed = api.ok("GET", "/roles/{role_id}/permissions", f"/roles/{role_id}/permissions")[
        "permissions"
    ]
    assert [p["description"] for p in listed] == ["Lets you read"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "PERMISSIONS_REQUIRED"),
        ({"permissions": []}, "INVALID_PERMISSIONS"),
        ({"permissions": "p"}, "INVALID_PERMISSIONS"),
        ({"permissions": ["p"]}, "INVALID_PERMISSIONS"),
        ({"permissions": [{"operation": "delete"}]}, "PERMISSION_ID_REQUIRED"),
        ({"permissions": [{"id": 5}]}, "PERMISSION_ID_REQUIRED"),
        ({"permissions": [{"id": "NEW", "operation": "remove"}]}, "INVALID_OPERATION"),
        (
            {"permissions": [{"id": "NEW"}, {"id": "NEW", "operation": "delete"}]},
            "DUPLICATE_PERMISSION",
        ),
        ({"permissions": [{"id": "NEW"}, {"id": str(uuid.uuid4())}]}, "PERMISSION_NOT_FOUND"),
        ({"permissions": [{"id": "NEW"}] * 101}, "TOO_MANY_PERMISSIONS"),
    ],
)
def test_invalid_role_permissions_update_writes_nothing(
    api: Api, body: dict[str, Any], code: str
) -> None:
    role_id = api.create_role()
    kept, new = api.create_permission(), api.create_permission()
    api.patch_role_permissions(role_id, [{"id": kept}])

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (new if v == "NEW" else fill(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    api.error("PATCH", f"/roles/{role_id}/permissions", code, json=fill(body))
    assert api.role_permission_ids(role_id) == [kept]


def test_role_permissions_bulk_limit_is_inclusive(api: Api) -> None:
    role_id = api.create_role()
    permission_id = api.create_permission()
    items = [{"id": permission_id}] + [
        {"id": str(uuid.uuid4()), "operation": "delete"} for _ in range(99)
    ]
    # 100 items pass the size check (and then fail, all or nothing, on the unknown ids).
    api.error(
        "PATCH",
        f"/roles/{role_id}/permissions",
        "PERMISSION_NOT_FOUND",
        json={"permissions": items},
    )
    assert api.role_permission_ids(role_id) == []
    many = [api.create_permission() for _ in range(5)]
    body = api.patch_role_permissions(role_id, [{"id": p} for p in many])
    assert body["permissions_added"] == many


def test_role_permissions_of_unknown_role(api: Api) -> None:
    permission_id = api.create_permission()
    missing = str(uuid.uuid4())
    api.error("GET", f"/roles/{missing}/permissions", "ROLE_NOT_FOUND")
    api.error(
        "PATCH",
        f"/roles/{missing}/permissions",
        "ROLE_NOT_FOUND",
        json={"permissions": [{"id": permission_id}]},
    )
    api.error("GET", f"/roles/{missing}/permissions", "INVALID_SORT", params={"sort": "key_asc"})


def test_role_permissions_token_is_bound_to_the_role(api: Api) -> None:
    first, second = api.create_role(), api.create_role()
    perms = [api.create_permission() for _ in range(2)]
    for role_id in (first, second):
        api.patch_role_permissions(role_id, [{"id": p} for p in perms])
    body = api.ok(
        "GET",
        "/roles/{role_id}/permissions",
        f"/roles/{first}/permissions",
        params={"page_size": 1},
    )
    api.error(
        "GET",
        f"/roles/{second}/permissions",
        "INVALID_NEXT_TOKEN",
        params={"page_size": 1, "next_token": body["next_token"]},
    )


# --- role scopes ----------------------------------------------------------------------


def test_role_scopes_add_list_delete(api: Api) -> None:
    role_id = api.create_role()
    api_id, scope_id = api.create_api_scope("read:things")
    empty = api.ok("GET", "/roles/{role_id}/scopes", f"/roles/{role_id}/scopes")
    assert empty["scopes"] == []
    added = api.ok(
        "POST", "/roles/{role_id}/scopes", f"/roles/{role_id}/scopes", json={"scope_id": scope_id}
    )
    assert added == {"code": "ROLE_SCOPE_ADDED", "message": "Scope added to role"}
    listed = api.ok("GET", "/roles/{role_id}/scopes", f"/roles/{role_id}/scopes")["scopes"]
    assert listed == [
        {"id": scope_id, "key": "read:things", "description": "A scope", "api_id": api_id}
    ]
    api.error("POST", f"/roles/{role_id}/scopes", "ROLE_SCOPE_EXISTS", json={"scope_id": scope_id})
    deleted = api.ok(
        "DELETE", "/roles/{role_id}/scopes/{scope_id}", f"/roles/{role_id}/scopes/{scope_id}"
    )
    assert deleted["code"] == "SCOPE_DELETED"
    assert api.ok("GET", "/roles/{role_id}/scopes", f"/roles/{role_id}/scopes")["scopes"] == []
    api.error("DELETE", f"/roles/{role_id}/scopes/{scope_id}", "ROLE_SCOPE_NOT_FOUND")
    api.error("DELETE", f"/roles/{role_id}/scopes/api_scope_nope", "SCOPE_NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "SCOPE_ID_REQUIRED"),
        ({"scope_id": ""}, "SCOPE_ID_REQUIRED"),
        ({"scope_id": 12}, "INVALID_SCOPE_ID"),
        ({"scope_id": "api_scope_missing"}, "SCOPE_NOT_FOUND"),
    ],
)
def test_invalid_role_scope_writes_nothing(api: Api, body: dict[str, Any], code: str) -> None:
    role_id = api.create_role()
    api.error("POST", f"/roles/{role_id}/scopes", code, json=body)
    assert api.ok("GET", "/roles/{role_id}/scopes", f"/roles/{role_id}/scopes")["scopes"] == []


def test_role_scopes_of_unknown_role(api: Api) -> None:
    _, scope_id = api.create_api_scope()
    missing = str(uuid.uuid4())
    api.error("GET", f"/roles/{missing}/scopes", "ROLE_NOT_FOUND")
    api.error("POST", f"/roles/{missing}/scopes", "ROLE_NOT_FOUND", json={"scope_id": scope_id})
    api.error("DELETE", f"/roles/{missing}/scopes/{scope_id}", "ROLE_NOT_FOUND")
    api.error("POST", f"/roles/{missing}/scopes", "BODY_REQUIRED")


# --- system permissions ---------------------------------------------------------------


def test_system_permissions_catalogue(api: Api) -> None:
    body = api.ok("GET", "/system_permissions", params={"page_size": 500})
    assert body["code"] == "OK" and "next_token" not in body
    items = body["system_permissions"]
    assert [p["key"] for p in items] == [p.key for p in SYSTEM_PERMISSIONS]
    assert all(set(p) == {"id", "key", "name", "description"} for p in items)
    assert all(p["id"].startswith("perm_") for p in items)
    keys = {p["key"] for p in items}
    assert {"org:read:billing", "org:write:billing", "org:write:members"} <= keys
    assert len({p["id"] for p in items}) == len(items)
    # The default page is 10 and the catalogue is stable across calls.
    assert api.ok("GET", "/system_permissions")["system_permissions"] == items[:10]


@pytest.mark.parametrize(
    ("sort", "field", "reverse"),
    [
        ("name_asc", "name", False),
        ("name_desc", "name", True),
        ("id_asc", "id", False),
        ("id_desc", "id", True),
        (None, None, False),
    ],
)
def test_system_permissions_sorted_and_paged(
    api: Api, sort: str | None, field: str | None, reverse: bool
) -> None:
    params = {} if sort is None else {"sort": sort}
    paged = api.walk("/system_permissions", "system_permissions", size=3, **params)
    everything = api.ok("GET", "/system_permissions", params={"page_size": 100})
    expected = everything["system_permissions"]
    if field is not None:
        expected = sorted(expected, key=lambda p: p[field], reverse=reverse)
    assert paged == expected


def test_system_permissions_bad_parameters(api: Api) -> None:
    api.error("GET", "/system_permissions", "INVALID_SORT", params={"sort": "key_asc"})
    api.error("GET", "/system_permissions", "PAGE_SIZE_LIMIT_EXCEEDED", params={"page_size": 501})
    api.error("GET", "/system_permissions", "INVALID_NEXT_TOKEN", params={"next_token": "xx"})


def test_role_system_permissions_add_list_remove(api: Api) -> None:
    role_id = api.create_role()
    path = f"/roles/{role_id}/system_permissions"
    template = "/roles/{role_id}/system_permissions"
    billing = next(p for p in SYSTEM_PERMISSIONS if p.key == "org:write:billing")
    members = next(p for p in SYSTEM_PERMISSIONS if p.key == "org:write:members")
    profile = next(p for p in SYSTEM_PERMISSIONS if p.key == "org:read:profile")
    assert api.ok("GET", template, path)["system_permissions"] == []
    body = api.ok(
        "PATCH",
        template,
        path,
        json={"system_permissions": [{"id": billing.id}, {"id": members.key}, {"id": profile.id}]},
    )
    assert body["code"] == "SYSTEM_PERMISSIONS_UPDATED"
    assert body["system_permissions_added"] == [billing.id, members.id, profile.id]
    assert body["system_permissions_removed"] == []
    listed = api.walk(template, "system_permissions", path, size=2)
    assert [p["key"] for p in listed] == [
        "org:read:profile",
        "org:write:billing",
        "org:write:members",
    ]
    assert listed[1] == {
        "id": billing.id,
        "key": billing.key,
        "name": billing.name,
        "description": billing.description,
    }
    by_name = api.walk(template, "system_permissions", path, size=1, sort="name_desc")
    assert [p["name"] for p in by_name] == sorted((p["name"] for p in listed), reverse=True)
    body = api.ok(
        "PATCH",
        template,
        path,
        json={
            "system_permissions": [
                {"id": billing.id, "operation": "delete"},
                {"id": members.id},
            ]
        },
    )
    assert body["system_permissions_added"] == [] and body["system_permissions_removed"] == [
        billing.id
    ]
    assert [p["key"] for p in api.walk(template, "system_permissions", path)] == [
        "org:read:profile",
        "org:write:members",
    ]


@pytest.mark.parametrize(
    ("items", "code"),
    [
        (None, "SYSTEM_PERMISSIONS_REQUIRED"),
        ([], "INVALID_SYSTEM_PERMISSIONS"),
        ([{"id": "perm_unknown"}], "SYSTEM_PERMISSION_NOT_FOUND"),
        ([{"id": "BILLING"}, {"id": "org:read:nothing"}], "SYSTEM_PERMISSION_NOT_FOUND"),
        ([{"id": "BILLING"}, {"id": "org:write:billing"}], "DUPLICATE_SYSTEM_PERMISSION"),
        ([{"id": "BILLING", "operation": "add"}], "INVALID_OPERATION"),
        ([{}], "SYSTEM_PERMISSION_ID_REQUIRED"),
        ([{"id": "BILLING"}] * 101, "TOO_MANY_SYSTEM_PERMISSIONS"),
    ],
)
def test_invalid_role_system_permissions_update_writes_nothing(
    api: Api, items: list[dict[str, Any]] | None, code: str
) -> None:
    role_id = api.create_role()
    billing = next(p for p in SYSTEM_PERMISSIONS if p.key == "org:write:billing")
    body = (
        {}
        if items is None
        else {
            "system_permissions": [
                {k: (billing.id if v == "BILLING" else v) for k, v in item.items()}
                for item in items
            ]
        }
    )
    api.error("PATCH", f"/roles/{role_id}/system_permissions", code, json=body)
    listed = api.ok(
        "GET", "/roles/{role_id}/system_permissions", f"/roles/{role_id}/system_permissions"
    )
    assert listed["system_permissions"] == []


def test_role_system_permissions_of_unknown_role(api: Api) -> None:
    missing = str(uuid.uuid4())
    api.error("GET", f"/roles/{missing}/system_permissions", "ROLE_NOT_FOUND")
    api.error(
        "PATCH",
        f"/roles/{missing}/system_permissions",
        "ROLE_NOT_FOUND",
        json={"system_permissions": [{"id": SYSTEM_PERMISSIONS[0].id}]},
    )


# --- deleting a role cascades -----------------------------------------------------------


def test_deleting_a_role_removes_all_its_assignments(server: KindlingServer, api: Api) -> None:
    role_id = api.create_role()
    permission_id = api.create_permission()
    _, scope_id = api.create_api_scope()
    api.patch_role_permissions(role_id, [{"id": permission_id}])
    api.ok(
        "POST", "/roles/{role_id}/scopes", f"/roles/{role_id}/scopes", json={"scope_id": scope_id}
    )
    api.ok(
        "PATCH",
        "/roles/{role_id}/system_permissions",
        f"/roles/{role_id}/system_permissions",
        json={"system_permissions": [{"id": SYSTEM_PERMISSIONS[0].id}]},
    )
    org_code, user_id = add_org_member(server, api)
    with database(server) as session:
        session.execute(
            "INSERT INTO organization_user_roles (org_code, user_id, role_id, created_on) "
            "VALUES (?, ?, ?, ?)",
            (org_code, user_id, role_id, isoformat(0)),
        )
    tables = {
        "role_permissions": "role_id",
        "role_scopes": "role_id",
        "role_system_permissions": "role_id",
        "organization_user_roles": "role_id",
    }
    with database(server) as session:
        for table, column in tables.items():
            assert count(session, f"SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?", role_id)

    api.ok("DELETE", "/roles/{role_id}", f"/roles/{role_id}")

    with database(server) as session:
        for table, column in tables.items():
            sql = f"SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?"
            assert count(session, sql, role_id) == 0, table
        # What the role pointed at is still there.
        assert count(session, "SELECT COUNT(*) AS n FROM permissions WHERE id = ?", permission_id)
        assert count(session, "SELECT COUNT(*) AS n FROM api_scopes WHERE id = ?", scope_id)
        assert count(
            session,
            "SELECT COUNT(*) AS n FROM organization_users WHERE org_code = ? AND user_id = ?",
            org_code,
            user_id,
        )
    # Through the API: the permission is still usable by another role.
    other = api.create_role()
    assert api.patch_role_permissions(other, [{"id": permission_id}])["permissions_added"] == [
        permission_id
    ]


def test_deleting_an_api_scope_removes_it_from_roles(server: KindlingServer, api: Api) -> None:
    role_id = api.create_role()
    _, scope_id = api.create_api_scope()
    api.ok(
        "POST", "/roles/{role_id}/scopes", f"/roles/{role_id}/scopes", json={"scope_id": scope_id}
    )
    with database(server) as session:
        session.execute("DELETE FROM api_scopes WHERE id = ?", (scope_id,))
    assert api.ok("GET", "/roles/{role_id}/scopes", f"/roles/{role_id}/scopes")["scopes"] == []
    api.error("POST", f"/roles/{role_id}/scopes", "SCOPE_NOT_FOUND", json={"scope_id": scope_id})


def test_percent_encoded_and_odd_role_ids_are_not_found(api: Api) -> None:
    for raw in ("a%3Ab", "a%20b", "%E2%9C%93", "x" * 300):
        api.error("GET", f"/roles/{raw}", "ROLE_NOT_FOUND")
