"""Permissions on both engines: contract, scopes, validation, uniqueness, listing, cascades."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kindling.kinde_scopes import MANAGEMENT_API_SCOPES
from kindling.resources.permissions import routes as permissions_routes
from tests.support import KindlingServer
from tests.test_roles import (
    BASE,
    CONTRACT,
    UUID_LIKE,
    Api,
    add_org_member,
    count,
    database,
    token_for,
    uid,
)


@pytest.fixture
def api(server: KindlingServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


def find(api: Api, permission_id: str) -> dict[str, Any] | None:
    """The permission as ``GET /permissions`` lists it, or None."""
    for item in api.walk("/permissions", "permissions", size=500):
        if item["id"] == permission_id:
            return item
    return None


def by_key(api: Api, key: str) -> list[dict[str, Any]]:
    return [p for p in api.walk("/permissions", "permissions", size=500) if p["key"] == key]


# --- the routes versus the contract ---------------------------------------------------

EXPECTED = {
    ("GET", "/permissions"),
    ("POST", "/permissions"),
    ("PATCH", "/permissions/{permission_id}"),
    ("DELETE", "/permissions/{permission_id}"),
}


def test_routes_match_the_contract() -> None:
    ops = permissions_routes.router.operations
    assert {(op.method, op.path) for op in ops} == EXPECTED
    assert len(ops) == len(EXPECTED)
    spec = {
        (op.method, op.path.removeprefix(BASE))
        for op in CONTRACT.operations
        if op.tag == "Permissions"
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
        assert not op.declared_errors, op


@pytest.mark.parametrize(
    "op", permissions_routes.router.operations, ids=lambda op: f"{op.method} {op.path}"
)
def test_operation_needs_its_scope(server: KindlingServer, api: Api, op: Any) -> None:
    narrow = token_for(server, [s for s in MANAGEMENT_API_SCOPES if s != op.scope])
    key = f"forbidden:{uid()}"
    kwargs: dict[str, Any] = {"json": {"name": "Forbidden", "key": key}} if op.body else {}
    path = BASE + op.path.replace("{permission_id}", str(uuid.uuid4()))
    response = api.http.request(
        op.method, path, headers={"Authorization": f"Bearer {narrow}"}, **kwargs
    )
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["code"] == "INSUFFICIENT_SCOPE"
    assert f'scope="{op.scope}"' in response.headers["www-authenticate"]
    response = api.http.request(op.method, path, headers={"Authorization": ""}, **kwargs)
    assert response.status_code == 401, response.text
    if op.method == "POST":
        assert by_key(api, key) == []  # the refused create wrote nothing
    assert api.http.request(op.method, path, **kwargs).status_code != 403


# --- create, update, delete -----------------------------------------------------------


def test_permission_lifecycle(api: Api) -> None:
    key = f"read:reports:{uid()}"
    created = api.ok(
        "POST",
        "/permissions",
        json={"name": "View reports", "key": key, "description": "Read financial reports"},
    )
    assert created["code"] == "PERMISSION_CREATED" and isinstance(created["message"], str)
    permission_id = created["permission"]["id"]
    assert re.fullmatch(UUID_LIKE, permission_id), permission_id
    assert find(api, permission_id) == {
        "id": permission_id,
        "key": key,
        "name": "View reports",
        "description": "Read financial reports",
    }

    updated = api.ok(
        "PATCH",
        "/permissions/{permission_id}",
        f"/permissions/{permission_id}",
        json={"name": "See reports"},
    )
    assert updated["code"] == "PERMISSION_UPDATED"
    assert find(api, permission_id) == {
        "id": permission_id,
        "key": key,
        "name": "See reports",
        "description": "Read financial reports",
    }
    api.ok(
        "PATCH",
        "/permissions/{permission_id}",
        f"/permissions/{permission_id}",
        json={"key": key + ":v2", "description": ""},
    )
    assert find(api, permission_id) == {
        "id": permission_id,
        "key": key + ":v2",
        "name": "See reports",
    }
    api.ok(
        "PATCH",
        "/permissions/{permission_id}",
        f"/permissions/{permission_id}",
        json={"description": "Back", "name": None},
    )
    assert find(api, permission_id) == {
        "id": permission_id,
        "key": key + ":v2",
        "name": "See reports",
        "description": "Back",
    }

    deleted = api.ok("DELETE", "/permissions/{permission_id}", f"/permissions/{permission_id}")
    assert deleted["code"] == "PERMISSION_DELETED"
    assert find(api, permission_id) is None
    api.error("DELETE", f"/permissions/{permission_id}", "PERMISSION_NOT_FOUND")
    api.error(
        "PATCH", f"/permissions/{permission_id}", "PERMISSION_NOT_FOUND", json={"name": "Gone"}
    )
    # Its key is free again.
    api.ok("POST", "/permissions", json={"name": "Again", "key": key + ":v2"})


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"key": "K"}, "NAME_REQUIRED"),
        ({"name": "", "key": "K"}, "NAME_REQUIRED"),
        ({"name": "n"}, "KEY_REQUIRED"),
        ({"name": "n", "key": "   "}, "KEY_REQUIRED"),
        ({"name": True, "key": "K"}, "INVALID_NAME"),
        ({"name": "n", "key": 12}, "INVALID_KEY"),
        ({"name": "x" * 65, "key": "K"}, "NAME_TOO_LONG"),
        ({"name": "n", "key": "k" * 129}, "KEY_TOO_LONG"),
        ({"name": "n", "key": "read reports"}, "INVALID_KEY"),
        ({"name": "n", "key": "read\\reports"}, "INVALID_KEY"),
        ({"name": "n", "key": "lecture:é"}, "INVALID_KEY"),
        ({"name": "n", "key": "K", "description": "d" * 1001}, "DESCRIPTION_TOO_LONG"),
        ({"name": "n", "key": "K", "description": ["d"]}, "INVALID_DESCRIPTION"),
    ],
)
def test_invalid_create_writes_nothing(api: Api, body: dict[str, Any], code: str) -> None:
    key = f"invalid:{uid()}"
    if body.get("key") == "K":
        body = dict(body, key=key)
    api.error("POST", "/permissions", code, json=body)
    assert by_key(api, key) == []
    api.ok("POST", "/permissions", json={"name": "Valid", "key": key})


@pytest.mark.parametrize(
    ("content", "code"), [(b"{", "INVALID_JSON"), (b"[1]", "INVALID_BODY"), (b"", "NAME_REQUIRED")]
)
def test_create_bad_body(api: Api, content: bytes, code: str) -> None:
    api.error(
        "POST", "/permissions", code, content=content, headers={"Content-Type": "application/json"}
    )


def test_boundary_lengths_are_accepted(api: Api) -> None:
    key = f"k{uid()}".ljust(128, "x")
    permission_id = api.create_permission(name="n" * 64)
    api.ok(
        "PATCH",
        "/permissions/{permission_id}",
        f"/permissions/{permission_id}",
        json={"key": key, "description": "d" * 1000},
    )
    item = find(api, permission_id)
    assert item is not None and item["key"] == key and len(item["description"]) == 1000


def test_keys_are_unique_case_sensitive_and_trimmed(api: Api) -> None:
    key = f"Write:Docs:{uid()}"
    first = api.ok("POST", "/permissions", json={"name": "A", "key": f"  {key}  "})
    assert find(api, first["permission"]["id"]) == {
        "id": first["permission"]["id"],
        "key": key,
        "name": "A",
    }
    api.error("POST", "/permissions", "PERMISSION_KEY_EXISTS", json={"name": "B", "key": key})
    second = api.ok("POST", "/permissions", json={"name": "C", "key": key.lower()})
    second_id = second["permission"]["id"]
    api.error(
        "PATCH",
        f"/permissions/{second_id}",
        "PERMISSION_KEY_EXISTS",
        json={"key": key, "name": "Z"},
    )
    assert find(api, second_id) == {"id": second_id, "key": key.lower(), "name": "C"}
    assert len(by_key(api, key)) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"name": None, "key": None}, "NO_FIELDS_TO_UPDATE"),
        ({"name": ""}, "NAME_REQUIRED"),
        ({"name": "x" * 65}, "NAME_TOO_LONG"),
        ({"key": "has space"}, "INVALID_KEY"),
        ({"key": 1}, "INVALID_KEY"),
        ({"name": "Fine", "description": "d" * 1001}, "DESCRIPTION_TOO_LONG"),
    ],
)
def test_invalid_update_changes_nothing(api: Api, body: dict[str, Any], code: str) -> None:
    permission_id = api.create_permission(name="Stay", description="Same")
    before = find(api, permission_id)
    api.error("PATCH", f"/permissions/{permission_id}", code, json=body)
    assert find(api, permission_id) == before


def test_update_without_body_is_refused(api: Api) -> None:
    permission_id = api.create_permission()
    api.error("PATCH", f"/permissions/{permission_id}", "NO_FIELDS_TO_UPDATE")


def test_concurrent_creates_of_one_key_make_one_permission(
    server: KindlingServer, api: Api
) -> None:
    key = f"race:{uid()}"
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        with server.client() as http:
            barrier.wait()
            response = http.post(
                BASE + "/permissions",
                json={"name": "Race", "key": key},
                headers={"Authorization": f"Bearer {token_for(server)}"},
            )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [400] * 7, statuses
    assert len(by_key(api, key)) == 1


# --- listing --------------------------------------------------------------------------


def test_listing_pages_in_creation_order(api: Api) -> None:
    ids = [api.create_permission() for _ in range(5)]
    paged = api.walk("/permissions", "permissions", size=4)
    everything = api.walk("/permissions", "permissions", size=500)
    assert paged == everything
    assert len({p["id"] for p in paged}) == len(paged)
    assert [p["id"] for p in paged if p["id"] in ids] == ids
    default = api.ok("GET", "/permissions")
    assert len(default["permissions"]) == min(10, len(everything))
    assert ("next_token" in default) == (len(everything) > 10)


@pytest.mark.parametrize(
    ("sort", "field", "reverse"),
    [
        ("name_asc", "name", False),
        ("name_desc", "name", True),
        ("id_asc", "id", False),
        ("id_desc", "id", True),
    ],
)
def test_listing_sorted_and_paged(api: Api, sort: str, field: str, reverse: bool) -> None:
    prefix = f"srt{uid()}"
    ids = [api.create_permission(name=f"{prefix} {letter}") for letter in "cadbe"]
    paged = api.walk("/permissions", "permissions", size=4, sort=sort)
    assert paged == api.walk("/permissions", "permissions", size=500, sort=sort)
    assert len(paged) == len(api.walk("/permissions", "permissions", size=500))
    mine = [p for p in paged if p["id"] in ids]
    assert mine == sorted(mine, key=lambda p: p[field], reverse=reverse)
    if field == "name":
        letters = [p["name"][-1] for p in mine]
        assert letters == sorted("abcde", reverse=reverse)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"sort": "key_asc"}, "INVALID_SORT"),
        ({"sort": "NAME_ASC"}, "INVALID_SORT"),
        ({"page_size": "501"}, "PAGE_SIZE_LIMIT_EXCEEDED"),
        ({"page_size": "-1"}, "INVALID_PAGE_SIZE"),
        ({"next_token": "garbage"}, "INVALID_NEXT_TOKEN"),
    ],
)
def test_listing_bad_parameters(api: Api, params: dict[str, str], code: str) -> None:
    api.error("GET", "/permissions", code, params=params)


def test_next_token_is_bound_to_its_listing(api: Api) -> None:
    api.create_permission()
    api.create_permission()
    token = api.ok("GET", "/permissions", params={"page_size": 1, "sort": "id_asc"})["next_token"]
    api.error("GET", "/permissions", "INVALID_NEXT_TOKEN", params={"next_token": token})
    api.error(
        "GET", "/roles", "INVALID_NEXT_TOKEN", params={"next_token": token, "sort": "name_asc"}
    )
    api.ok("GET", "/permissions", params={"next_token": token, "sort": "id_asc"})


# --- deleting cascades ------------------------------------------------------------------


def test_deleting_a_permission_removes_its_assignments(server: KindlingServer, api: Api) -> None:
    doomed, kept = api.create_permission(), api.create_permission()
    role_id = api.create_role(assignment_permission_id=doomed)
    api.patch_role_permissions(role_id, [{"id": doomed}, {"id": kept}])
    org_code, user_id = add_org_member(server, api)
    with database(server) as session:
        session.execute(
            "INSERT INTO organization_user_permissions (org_code, user_id, permission_id) "
            "VALUES (?, ?, ?)",
            (org_code, user_id, doomed),
        )

    api.ok("DELETE", "/permissions/{permission_id}", f"/permissions/{doomed}")

    # Through the API: the role keeps only the other permission.
    assert api.role_permission_ids(role_id) == [kept]
    api.error(
        "PATCH",
        f"/roles/{role_id}/permissions",
        "PERMISSION_NOT_FOUND",
        json={"permissions": [{"id": doomed}]},
    )
    with database(server) as session:
        for sql in (
            "SELECT COUNT(*) AS n FROM role_permissions WHERE permission_id = ?",
            "SELECT COUNT(*) AS n FROM organization_user_permissions WHERE permission_id = ?",
            "SELECT COUNT(*) AS n FROM roles WHERE assignment_permission_id = ?",
        ):
            assert count(session, sql, doomed) == 0, sql
        assert count(session, "SELECT COUNT(*) AS n FROM roles WHERE id = ?", role_id) == 1
    assert api.get_role(role_id)["id"] == role_id
