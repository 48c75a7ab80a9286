"""Organization membership against a real ``kindling serve`` on both engines.

Covers ``/organizations/{org_code}/users…`` (members, their roles, permissions, API
scopes and MFA), ``/organizations/{org_code}/roles/{role_id}/…`` (role users and
counts) and ``GET /roles/{role_id}/users``: contract status and body, the scope check,
bad input (400 with a code, nothing written), not found, pagination, all-or-nothing bulk
changes and the schema's cascades.

Organizations, roles and permissions are created over HTTP with their own endpoints.
What the Management API cannot write (MFA factors, last access times, role permissions)
is written straight into the server's database through the storage engine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kindling.platform.engine import Engine, PostgresEngine, SqliteEngine
from kindling.resources.organizations.members import routes as organization_users
from tests.contract.contract import load_contract
from tests.support import KindlingServer
from tests.test_management_api import Mgmt, assert_error, token_for, uid, unique_email

CONTRACT = load_contract()
BASE = "/api/v1"
USERS = "/organizations/{org_code}/users"
USER = "/organizations/{org_code}/users/{user_id}"
USER_ROLES = USER + "/roles"
USER_ROLE = USER + "/roles/{role_id}"
USER_PERMISSIONS = USER + "/permissions"
USER_PERMISSION = USER + "/permissions/{permission_id}"
USER_API_SCOPE = USER + "/apis/{api_id}/scopes/{scope_id}"
USER_MFA = USER + "/mfa"
USER_MFA_FACTOR = USER + "/mfa/{factor_id}"
ROLE_USERS = "/organizations/{org_code}/roles/{role_id}/users"
ROLE_USERS_COUNT = ROLE_USERS + "/count"
ROLE_ACTIVE_COUNT = "/organizations/{org_code}/roles/{role_id}/active_users/count"
GLOBAL_ROLE_USERS = "/roles/{role_id}/users"

#: Every operation this area owns, as (method, path under /api/v1).
OWNED = {
    ("GET", USERS),
    ("POST", USERS),
    ("PATCH", USERS),
    ("DELETE", USER),
    ("GET", USER_ROLES),
    ("POST", USER_ROLES),
    ("DELETE", USER_ROLE),
    ("GET", USER_PERMISSIONS),
    ("POST", USER_PERMISSIONS),
    ("DELETE", USER_PERMISSION),
    ("POST", USER_API_SCOPE),
    ("DELETE", USER_API_SCOPE),
    ("GET", USER_MFA),
    ("DELETE", USER_MFA),
    ("DELETE", USER_MFA_FACTOR),
    ("GET", ROLE_USERS),
    ("GET", ROLE_USERS_COUNT),
    ("GET", ROLE_ACTIVE_COUNT),
    ("GET", GLOBAL_ROLE_USERS),
}


# --- direct database access (what the API cannot write) -----------------------------

_ENGINES: dict[str, Engine] = {}


def engine_for(server: KindlingServer) -> Engine:
    if server.base_url not in _ENGINES:
        if server.database_url:
            _ENGINES[server.base_url] = PostgresEngine(server.database_url, max_size=2)
        else:
            _ENGINES[server.base_url] = SqliteEngine(server.data_dir / "kindling.db")
    return _ENGINES[server.base_url]


@pytest.fixture(scope="module", autouse=True)
def _close_engines() -> Iterator[None]:
    yield
    for engine in _ENGINES.values():
        engine.close()
    _ENGINES.clear()


def db_execute(server: KindlingServer, sql: str, params: tuple[Any, ...] = ()) -> int:
    with engine_for(server).session(write=True) as session:
        return session.execute(sql, params)


def db_rows(server: KindlingServer, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with engine_for(server).session(write=False) as session:
        return [{k: row[k] for k in row.keys()} for row in session.all(sql, params)]


def db_count(server: KindlingServer, table: str, where: str, params: tuple[Any, ...]) -> int:
    rows = db_rows(server, f"SELECT COUNT(*) AS n FROM {table} WHERE {where}", params)
    return int(rows[0]["n"])


def add_mfa_factor(server: KindlingServer, user_id: str, org_code: str | None, kind: str) -> str:
    factor_id = f"mfa_{uid()}{uid()}"
    db_execute(
        server,
        "INSERT INTO user_mfa_factors (id, user_id, org_code, type, name, created_on) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (factor_id, user_id, org_code, kind, f"{kind}-{uid()}", "2024-11-18T13:31:46.795085+00:00"),
    )
    return factor_id


def set_last_access(server: KindlingServer, org_code: str, user_id: str, when: str | None) -> None:
    changed = db_execute(
        server,
        "UPDATE organization_users SET last_accessed_on = ? WHERE org_code = ? AND user_id = ?",
        (when, org_code, user_id),
    )
    assert changed == 1


def link_role_permission(server: KindlingServer, role_id: str, permission_id: str) -> None:
    db_execute(
        server,
        "INSERT INTO role_permissions (role_id, permission_id) VALUES (?, ?)",
        (role_id, permission_id),
    )


# --- setting things up over HTTP ----------------------------------------------------


@dataclass(frozen=True)
class Role:
    id: str
    key: str


@dataclass(frozen=True)
class Permission:
    id: str
    key: str


class Members(Mgmt):
    """Mgmt plus organizations, roles, permissions and membership shortcuts."""

    def create_org(self) -> str:
        resp = self.request("POST", "/organization", json={"name": f"org-{uid()}"})
        assert resp.status_code == 200, resp.text
        return str(resp.json()["organization"]["code"])

    def create_role(self, tag: str = "role") -> Role:
        key = f"{tag}_{uid()}"
        resp = self.request("POST", "/roles", json={"name": f"Role {key}", "key": key})
        assert resp.status_code == 201, resp.text
        return Role(str(resp.json()["role"]["id"]), key)

    def create_permission(self, tag: str = "perm") -> Permission:
        key = f"{tag}_{uid()}"
        resp = self.request(
            "POST",
            "/permissions",
            json={"name": f"Permission {key}", "key": key, "description": f"about {key}"},
        )
        assert resp.status_code == 201, resp.text
        rows = db_rows(self.server, "SELECT id FROM permissions WHERE key = ?", (key,))
        assert len(rows) == 1, rows
        return Permission(str(rows[0]["id"]), key)

    def user(self, first: str = "Ada", last: str = "Lovelace", email: str | None = None) -> str:
        return self.create_user(email or unique_email("m"), given_name=first, family_name=last)

    def add(self, org: str, *users: str | dict[str, Any]) -> list[str]:
        items = [{"id": u} if isinstance(u, str) else u for u in users]
        body = self.ok("POST", USERS, f"/organizations/{org}/users", json={"users": items})
        added: list[str] = body["users_added"]
        return added

    def members(self, org: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query = dict(params, page_size=params.get("page_size", 500))
        for _ in range(100):
            body = self.ok("GET", USERS, f"/organizations/{org}/users", params=query)
            items.extend(body["organization_users"])
            if "next_token" not in body:
                return items
            query["next_token"] = body["next_token"]
        raise AssertionError("pagination did not end")

    def member_ids(self, org: str, **params: Any) -> list[str]:
        return [m["id"] for m in self.members(org, **params)]

    def role_keys(self, org: str, user: str) -> list[str]:
        body = self.ok("GET", USER_ROLES, f"/organizations/{org}/users/{user}/roles")
        return [r["key"] for r in body["roles"]]


@pytest.fixture
def mm(server: KindlingServer) -> Iterator[Members]:
    client = Members(server)
    yield client
    client.close()


def _concrete(template: str) -> str:
    return template.format(
        org_code="org_0000000000a",
        user_id="kp_" + "0" * 32,
        role_id="01929904-316d-bb2c-069f-99dfea4ac394",
        permission_id="01929904-316d-bb2c-069f-99dfea4ac395",
        api_id="0" * 32,
        scope_id="api_scope_0",
        factor_id="mfa_0",
    )


# --- declarations versus the contract -----------------------------------------------


def test_operations_match_the_contract() -> None:
    ops = {(op.method, op.path): op for op in organization_users.router.operations}
    assert set(ops) == OWNED
    for (method, path), op in ops.items():
        spec = CONTRACT.find(method, BASE + path)
        assert op.operation_id == spec.operation_id, (method, path)
        assert op.scope == spec.scope, (method, path)
        assert (op.status,) == spec.success_codes, (method, path)
        assert op.tag == spec.tag, (method, path, op.tag, spec.tag)
        query = {p["name"]: p["required"] for p in spec.parameters if p["in"] == "query"}
        assert {p.name: p.required for p in op.query} == query, (method, path)
        assert op.body == (spec.request_body is not None), (method, path)
        assert (404 in op.declared_errors) == (404 in spec.error_codes), (method, path)


@pytest.mark.parametrize(("method", "template"), sorted(OWNED))
def test_each_operation_requires_its_scope(
    server: KindlingServer, method: str, template: str
) -> None:
    narrow = token_for(server, ["read:users"])
    with server.client() as http:
        resp = http.request(
            method,
            BASE + _concrete(template),
            headers={"Authorization": f"Bearer {narrow}"},
            params={"date_time_from": "2026-07-01T00:00:00Z", "date_time_to": "2026-07-01T01:00Z"},
            json={} if method in ("POST", "PATCH") else None,
        )
    assert_error(resp, 403)


# --- members: add, list, update, remove ---------------------------------------------


def test_add_users_with_roles_and_permissions_then_list(mm: Members) -> None:
    org = mm.create_org()
    r1, r2 = mm.create_role(), mm.create_role()
    p1 = mm.create_permission()
    email = unique_email("ada")
    u1 = mm.user("Ada", "Lovelace", email)
    u2 = mm.user("Grace", "Hopper")
    added = mm.add(
        org,
        {"id": u1, "roles": [r1.key, r2.key], "permissions": [p1.key]},
        {"id": u2},
    )
    assert added == [u1, u2]

    members = {m["id"]: m for m in mm.members(org)}
    assert set(members) == {u1, u2}
    ada = members[u1]
    assert ada["email"] == email
    assert ada["first_name"] == "Ada"
    assert ada["last_name"] == "Lovelace"
    assert ada["full_name"] == "Ada Lovelace"
    assert ada["is_suspended"] is False
    assert sorted(ada["roles"]) == sorted([r1.key, r2.key])
    assert isinstance(ada["joined_on"], str) and ada["joined_on"]
    assert ada["last_accessed_on"] is None
    assert members[u2]["roles"] == []

    assert mm.member_ids(org, roles=r1.key) == [u1]
    assert mm.member_ids(org, roles=f"{r1.key},{r2.key}") == [u1]
    assert mm.member_ids(org, permissions=p1.key) == [u1]
    assert mm.member_ids(org, roles=f"{r1.key},nope_{uid()}") == []
    assert mm.member_ids(org, roles=r1.key, permissions=p1.key) == [u1]


def test_adding_an_existing_member_merges_roles_and_reports_nothing_added(
    mm: Members,
) -> None:
    org = mm.create_org()
    r1, r2 = mm.create_role(), mm.create_role()
    u1 = mm.user()
    assert mm.add(org, {"id": u1, "roles": [r1.key]}) == [u1]
    assert mm.add(org, {"id": u1, "roles": [r1.key, r2.key]}) == []
    assert sorted(mm.role_keys(org, u1)) == sorted([r1.key, r2.key])
    assert mm.member_ids(org) == [u1]


def test_members_sort_and_page(mm: Members) -> None:
    org = mm.create_org()
    family = f"z{uid()}"
    firsts = ["alpha", "bravo", "charlie", "delta", "echo"]
    # Email order is the reverse of name order.
    users = {
        first: mm.user(first, family, f"{chr(ord('v') - i)}{uid()}@{uid()}.example.com")
        for i, first in enumerate(firsts)
    }
    mm.add(org, *users.values())
    by_name = [users[f] for f in firsts]
    expected = {
        None: list(users.values()),
        "name_asc": by_name,
        "name_desc": by_name[::-1],
        "email_asc": by_name[::-1],
        "email_desc": by_name,
    }
    for sort, order in expected.items():
        seen: list[str] = []
        params: dict[str, Any] = {"page_size": 2}
        if sort:
            params["sort"] = sort
        pages = 0
        while True:
            body = mm.ok("GET", USERS, f"/organizations/{org}/users", params=params)
            pages += 1
            assert len(body["organization_users"]) <= 2
            seen.extend(m["id"] for m in body["organization_users"])
            if "next_token" not in body:
                break
            params["next_token"] = body["next_token"]
        assert seen == order, sort
        assert pages == 3

    first = mm.ok("GET", USERS, f"/organizations/{org}/users", params={"page_size": 2})
    token = first["next_token"]
    # A token only continues the listing (sort, filters, organization) it came from.
    resp = mm.request(
        "GET", f"/organizations/{org}/users", params={"next_token": token, "sort": "name_asc"}
    )
    assert_error(resp, 400, "INVALID_NEXT_TOKEN")
    other = mm.create_org()
    resp = mm.request("GET", f"/organizations/{other}/users", params={"next_token": token})
    assert_error(resp, 400, "INVALID_NEXT_TOKEN")
    resp = mm.request("GET", f"/organizations/{org}/users", params={"next_token": "bogus"})
    assert_error(resp, 400, "INVALID_NEXT_TOKEN")


def test_list_members_bad_input(mm: Members) -> None:
    org = mm.create_org()
    path = f"/organizations/{org}/users"
    assert_error(mm.request("GET", path, params={"sort": "id_asc"}), 400, "INVALID_SORT")
    assert_error(mm.request("GET", path, params={"page_size": 501}), 400)
    assert_error(mm.request("GET", path, params={"page_size": 0}), 400)
    assert_error(mm.request("GET", path, params={"page_size": "x"}), 400)
    many = ",".join(f"r{i}" for i in range(101))
    assert_error(mm.request("GET", path, params={"roles": many}), 400, "TOO_MANY_FILTER_VALUES")
    missing = f"org_{uid()}"
    assert_error(
        mm.request("GET", f"/organizations/{missing}/users"), 400, "ORGANIZATION_NOT_FOUND"
    )
    assert mm.ok("GET", USERS, path) == {
        "code": "OK",
        "message": "Success",
        "organization_users": [],
    }


@pytest.mark.parametrize(
    ("users", "code"),
    [
        (None, "USERS_REQUIRED"),
        ([], "USERS_REQUIRED"),
        ("kp_x", "INVALID_USERS"),
        (["kp_x"], "INVALID_USERS"),
        ([{"id": 5}], "INVALID_USER_ID"),
        ([{}], "USER_ID_REQUIRED"),
        ([{"id": "{u1}", "roles": "admin"}], "INVALID_ROLES"),
        ([{"id": "{u1}", "roles": [1]}], "INVALID_ROLES"),
        ([{"id": "{u1}", "permissions": {"a": 1}}], "INVALID_PERMISSIONS"),
        ([{"id": "{u1}"}, {"id": "{u1}"}], "DUPLICATE_USER"),
        ([{"id": "{u1}"}, {"id": "kp_missing"}], "USER_NOT_FOUND"),
        ([{"id": "{u1}", "roles": ["{r1}", "missing_role"]}], "ROLE_NOT_FOUND"),
        ([{"id": "{u1}", "permissions": ["missing_permission"]}], "PERMISSION_NOT_FOUND"),
        ([{"id": "{u1}", "operation": "delete"}], "INVALID_OPERATION"),
    ],
)
def test_add_users_bad_input_writes_nothing(mm: Members, users: Any, code: str) -> None:
    org = mm.create_org()
    u1, r1 = mm.user(), mm.create_role()

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{u1}", u1).replace("{r1}", r1.key)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    body = {} if users is None else {"users": fill(users)}
    if code == "INVALID_OPERATION":
        # POST has no operation field: a "delete" entry is just an add.
        assert mm.add(org, *fill(users)) == [u1]
        return
    assert_error(mm.request("POST", f"/organizations/{org}/users", json=body), 400, code)
    assert mm.members(org) == []


def test_add_users_limits_and_unknown_org(mm: Members) -> None:
    org = mm.create_org()
    u1 = mm.user()
    too_many = [{"id": f"kp_{i:032x}"} for i in range(101)]
    resp = mm.request("POST", f"/organizations/{org}/users", json={"users": too_many})
    assert_error(resp, 400, "TOO_MANY_USERS")
    resp = mm.request(
        "POST", f"/organizations/{org}/users", json={"users": [{"id": u1, "roles": ["r"] * 101}]}
    )
    assert_error(resp, 400, "TOO_MANY_ROLES")
    resp = mm.request("POST", f"/organizations/{org}/users", content=b"[1]")
    assert_error(resp, 400, "INVALID_BODY")
    resp = mm.request("POST", f"/organizations/{org}/users", content=b"{")
    assert_error(resp, 400, "INVALID_JSON")
    resp = mm.request("POST", f"/organizations/org_{uid()}/users", json={"users": [{"id": u1}]})
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    assert mm.members(org) == []
    # 100 users is the limit, not above it; they are all added at once.
    hundred = [mm.user(f"n{i}") for i in range(100)]
    assert mm.add(org, *hundred) == hundred
    assert sorted(mm.member_ids(org)) == sorted(hundred)


def test_update_users_adds_updates_and_removes_all_or_nothing(mm: Members) -> None:
    org = mm.create_org()
    r1, r2 = mm.create_role(), mm.create_role()
    p1 = mm.create_permission()
    u1, u2, u3, outsider = mm.user("A"), mm.user("B"), mm.user("C"), mm.user("D")
    mm.add(org, {"id": u1, "roles": [r1.key]}, {"id": u2, "roles": [r1.key]})
    path = f"/organizations/{org}/users"

    # A failing entry (unknown user) rolls the whole request back.
    resp = mm.request(
        "PATCH",
        path,
        json={"users": [{"id": u1, "operation": "delete"}, {"id": f"kp_{uid()}"}]},
    )
    assert_error(resp, 400, "USER_NOT_FOUND")
    resp = mm.request(
        "PATCH",
        path,
        json={"users": [{"id": u1, "operation": "delete"}, {"id": u2, "roles": ["nope"]}]},
    )
    assert_error(resp, 400, "ROLE_NOT_FOUND")
    resp = mm.request("PATCH", path, json={"users": [{"id": u1, "operation": "remove"}]})
    assert_error(resp, 400, "INVALID_OPERATION")
    assert sorted(mm.member_ids(org)) == sorted([u1, u2])

    body = mm.ok(
        "PATCH",
        USERS,
        path,
        json={
            "users": [
                {"id": u1, "operation": "delete"},
                {"id": u2, "roles": [r2.key], "permissions": [p1.key]},
                {"id": u3, "roles": [r1.key]},
                {"id": outsider, "operation": "delete"},
            ]
        },
    )
    assert body["users_removed"] == [u1]
    assert body["users_updated"] == [u2]
    assert body["users_added"] == [u3]
    assert body["code"] == "OK"
    members = {m["id"]: m for m in mm.members(org)}
    assert set(members) == {u2, u3}
    assert sorted(members[u2]["roles"]) == sorted([r1.key, r2.key])
    assert members[u3]["roles"] == [r1.key]
    assert mm.member_ids(org, permissions=p1.key) == [u2]
    too_many = [{"id": f"kp_{i:032x}", "operation": "delete"} for i in range(101)]
    assert_error(mm.request("PATCH", path, json={"users": too_many}), 400, "TOO_MANY_USERS")


def test_remove_user(mm: Members) -> None:
    org = mm.create_org()
    u1, u2 = mm.user(), mm.user()
    mm.add(org, u1, u2)
    body = mm.ok("DELETE", USER, f"/organizations/{org}/users/{u1}")
    assert body["code"] == "OK"
    assert mm.member_ids(org) == [u2]
    resp = mm.request("DELETE", f"/organizations/{org}/users/{u1}")
    assert_error(resp, 400, "USER_NOT_IN_ORGANIZATION")
    resp = mm.request("DELETE", f"/organizations/{org}/users/kp_{uid()}")
    assert_error(resp, 400, "USER_NOT_FOUND")
    resp = mm.request("DELETE", f"/organizations/org_{uid()}/users/{u2}")
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    assert mm.member_ids(org) == [u2]


def test_concurrent_adds_of_one_user_add_it_once(mm: Members, server: KindlingServer) -> None:
    org = mm.create_org()
    u1 = mm.user()
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def worker() -> None:
        client = Mgmt(server)
        try:
            resp = client.request(
                "POST", f"/organizations/{org}/users", json={"users": [{"id": u1}]}
            )
        finally:
            client.close()
        with lock:
            results.append(resp)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code in (200, 400) for r in results), [r.text for r in results]
    added = [r.json()["users_added"] for r in results if r.status_code == 200]
    assert sum(len(a) for a in added) == 1
    for r in results:
        if r.status_code == 400:
            assert_error(r, 400, "MEMBERSHIP_CONFLICT")
    assert mm.member_ids(org) == [u1]


# --- roles of a member ----------------------------------------------------------------


def test_member_roles(mm: Members) -> None:
    org = mm.create_org()
    r1, r2 = mm.create_role(), mm.create_role()
    u1, outsider = mm.user(), mm.user()
    mm.add(org, u1)
    base = f"/organizations/{org}/users/{u1}/roles"

    assert mm.ok("GET", USER_ROLES, base) == {"code": "OK", "message": "Success", "roles": []}
    body = mm.ok("POST", USER_ROLES, base, json={"role_id": r1.id})
    assert body["code"] == "OK"
    mm.ok("POST", USER_ROLES, base, json={"role_id": r2.id})
    roles = mm.ok("GET", USER_ROLES, base)["roles"]
    assert [(r["id"], r["key"]) for r in roles] == [(r1.id, r1.key), (r2.id, r2.key)]
    assert all(r["name"] == f"Role {r['key']}" for r in roles)

    assert_error(mm.request("POST", base, json={"role_id": r1.id}), 400, "ROLE_ALREADY_ASSIGNED")
    assert_error(mm.request("POST", base, json={"role_id": "nope"}), 400, "ROLE_NOT_FOUND")
    assert_error(mm.request("POST", base, json={}), 400, "ROLE_ID_REQUIRED")
    assert_error(mm.request("POST", base, json={"role_id": 7}), 400, "ROLE_ID_REQUIRED")
    assert_error(mm.request("POST", base), 400, "BODY_REQUIRED")
    outsider_path = f"/organizations/{org}/users/{outsider}/roles"
    resp = mm.request("POST", outsider_path, json={"role_id": r1.id})
    assert_error(resp, 400, "USER_NOT_IN_ORGANIZATION")
    assert_error(mm.request("GET", outsider_path), 400, "USER_NOT_IN_ORGANIZATION")
    resp = mm.request("GET", f"/organizations/org_{uid()}/users/{u1}/roles")
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")

    body = mm.ok("DELETE", USER_ROLE, f"{base}/{r1.id}")
    assert body["code"] == "OK"
    assert mm.role_keys(org, u1) == [r2.key]
    assert_error(mm.request("DELETE", f"{base}/{r1.id}"), 400, "ROLE_NOT_ASSIGNED")
    assert_error(mm.request("DELETE", f"{base}/missing"), 400, "ROLE_NOT_FOUND")
    assert mm.role_keys(org, u1) == [r2.key]


# --- permissions of a member ----------------------------------------------------------


def test_member_permissions_direct_and_through_roles(mm: Members, server: KindlingServer) -> None:
    org = mm.create_org()
    p1, p2, p3 = mm.create_permission(), mm.create_permission(), mm.create_permission()
    role = mm.create_role()
    link_role_permission(server, role.id, p2.id)
    link_role_permission(server, role.id, p3.id)
    u1, u2 = mm.user(), mm.user()
    mm.add(org, u1, u2)
    base = f"/organizations/{org}/users/{u1}/permissions"

    assert mm.ok("GET", USER_PERMISSIONS, base)["permissions"] == []
    assert mm.ok("POST", USER_PERMISSIONS, base, json={"permission_id": p1.id})["code"] == "OK"
    mm.ok("POST", USER_PERMISSIONS, base, json={"permission_id": p3.id})
    mm.ok("POST", USER_ROLES, f"/organizations/{org}/users/{u1}/roles", json={"role_id": role.id})

    plain = mm.ok("GET", USER_PERMISSIONS, base)["permissions"]
    assert [p["id"] for p in plain] == [p1.id, p2.id, p3.id]
    assert all("roles" not in p for p in plain)
    assert plain[0] == {
        "id": p1.id,
        "key": p1.key,
        "name": f"Permission {p1.key}",
        "description": f"about {p1.key}",
    }
    expanded = mm.ok("GET", USER_PERMISSIONS, base, params={"expand": "roles"})["permissions"]
    granting = {p["key"]: p["roles"] for p in expanded}
    assert granting == {
        p1.key: [],
        p2.key: [{"id": role.id, "key": role.key}],
        p3.key: [{"id": role.id, "key": role.key}],
    }
    resp = mm.request("GET", base, params={"expand": "scopes"})
    assert_error(resp, 400, "INVALID_EXPAND")

    # The permissions filter matches direct permissions and those held through roles.
    assert mm.member_ids(org, permissions=p2.key) == [u1]
    assert mm.member_ids(org, permissions=f"{p1.key},{p2.key}") == [u1]

    resp = mm.request("POST", base, json={"permission_id": p1.id})
    assert_error(resp, 400, "PERMISSION_ALREADY_ASSIGNED")
    resp = mm.request("POST", base, json={"permission_id": "nope"})
    assert_error(resp, 400, "PERMISSION_NOT_FOUND")
    assert_error(mm.request("POST", base, json={}), 400, "PERMISSION_ID_REQUIRED")
    resp = mm.request(
        "POST", f"/organizations/{org}/users/kp_{uid()}/permissions", json={"permission_id": p1.id}
    )
    assert_error(resp, 400, "USER_NOT_FOUND")

    assert mm.ok("DELETE", USER_PERMISSION, f"{base}/{p1.id}")["code"] == "OK"
    assert_error(mm.request("DELETE", f"{base}/{p1.id}"), 400, "PERMISSION_NOT_ASSIGNED")
    # p2 is held only through the role: there is no direct grant to delete.
    assert_error(mm.request("DELETE", f"{base}/{p2.id}"), 400, "PERMISSION_NOT_ASSIGNED")
    assert_error(mm.request("DELETE", f"{base}/missing"), 400, "PERMISSION_NOT_FOUND")
    after = mm.ok("GET", USER_PERMISSIONS, base)["permissions"]
    assert [p["id"] for p in after] == [p2.id, p3.id]
    # Another member holds nothing.
    other = mm.ok("GET", USER_PERMISSIONS, f"/organizations/{org}/users/{u2}/permissions")
    assert other["permissions"] == []


# --- API scopes of a member -----------------------------------------------------------


def test_member_api_scopes(mm: Members, server: KindlingServer) -> None:
    org = mm.create_org()
    u1 = mm.user()
    mm.add(org, u1)
    api_id, _ = mm.create_api()
    scope_id = mm.add_scope(api_id, f"read:{uid()}")
    other_api, _ = mm.create_api()
    foreign_scope = mm.add_scope(other_api, f"read:{uid()}")
    path = f"/organizations/{org}/users/{u1}/apis/{api_id}/scopes/{scope_id}"

    def granted() -> int:
        return db_count(
            server,
            "organization_user_api_scopes",
            "org_code = ? AND user_id = ? AND api_id = ?",
            (org, u1, api_id),
        )

    resp = mm.request("POST", path)
    assert resp.status_code == 200, resp.text
    CONTRACT.validate_response("POST", BASE + USER_API_SCOPE, 200, None)
    assert granted() == 1
    assert_error(mm.request("POST", path), 400, "SCOPE_ALREADY_ASSIGNED")
    resp = mm.request(
        "POST", f"/organizations/{org}/users/{u1}/apis/{api_id}/scopes/{foreign_scope}"
    )
    assert_error(resp, 400, "SCOPE_NOT_FOUND")
    resp = mm.request("POST", f"/organizations/{org}/users/{u1}/apis/{uid()}/scopes/{scope_id}")
    assert_error(resp, 400, "API_NOT_FOUND")
    outsider = mm.user()
    resp = mm.request(
        "POST", f"/organizations/{org}/users/{outsider}/apis/{api_id}/scopes/{scope_id}"
    )
    assert_error(resp, 400, "USER_NOT_IN_ORGANIZATION")
    assert granted() == 1

    resp = mm.request("DELETE", path)
    assert resp.status_code == 200, resp.text
    assert granted() == 0
    assert_error(mm.request("DELETE", path), 400, "SCOPE_NOT_ASSIGNED")


# --- MFA of a member --------------------------------------------------------------------


def test_member_mfa(mm: Members, server: KindlingServer) -> None:
    org, other_org = mm.create_org(), mm.create_org()
    u1 = mm.user()
    mm.add(org, u1)
    mm.add(other_org, u1)
    base = f"/organizations/{org}/users/{u1}/mfa"

    assert_error(mm.request("GET", base), 404, "MFA_NOT_FOUND")
    first = add_mfa_factor(server, u1, org, "email")
    second = add_mfa_factor(server, u1, org, "authenticator_app")
    elsewhere = add_mfa_factor(server, u1, other_org, "sms")
    unscoped = add_mfa_factor(server, u1, None, "email")

    body = mm.ok("GET", USER_MFA, base)
    assert body["code"] == "OK"
    assert body["mfa"]["id"] == first
    assert body["mfa"]["type"] == "email"
    assert body["mfa"]["created_on"] == "2024-11-18T13:31:46.795085+00:00"
    assert body["mfa"]["name"].startswith("email-")

    assert mm.ok("DELETE", USER_MFA_FACTOR, f"{base}/{first}")["code"] == "OK"
    assert mm.ok("GET", USER_MFA, base)["mfa"]["id"] == second
    assert_error(mm.request("DELETE", f"{base}/{first}"), 404, "MFA_FACTOR_NOT_FOUND")
    # A factor of another organization cannot be reset through this one.
    assert_error(mm.request("DELETE", f"{base}/{elsewhere}"), 404, "MFA_FACTOR_NOT_FOUND")

    assert mm.ok("DELETE", USER_MFA, base)["code"] == "OK"
    assert_error(mm.request("GET", base), 404, "MFA_NOT_FOUND")
    assert mm.ok("DELETE", USER_MFA, base)["code"] == "OK"
    remaining = db_rows(
        server, "SELECT id FROM user_mfa_factors WHERE user_id = ? ORDER BY seq", (u1,)
    )
    assert [r["id"] for r in remaining] == [elsewhere, unscoped]

    outsider = mm.user()
    outsider_base = f"/organizations/{org}/users/{outsider}/mfa"
    assert_error(mm.request("GET", outsider_base), 404, "USER_NOT_IN_ORGANIZATION")
    assert_error(mm.request("DELETE", outsider_base), 404, "USER_NOT_IN_ORGANIZATION")
    assert_error(mm.request("DELETE", outsider_base + "/x"), 404, "USER_NOT_IN_ORGANIZATION")
    resp = mm.request("GET", f"/organizations/org_{uid()}/users/{u1}/mfa")
    assert_error(resp, 404, "ORGANIZATION_NOT_FOUND")


# --- users of a role --------------------------------------------------------------------


def test_role_users_in_an_organization_and_across(mm: Members) -> None:
    org, org2 = mm.create_org(), mm.create_org()
    role, other_role = mm.create_role(), mm.create_role()
    users = [mm.user(f"u{i}") for i in range(5)]
    mm.add(org, *({"id": u, "roles": [role.key]} for u in users[:3]), users[3])
    mm.add(org, {"id": users[4], "roles": [other_role.key]})
    mm.add(org2, {"id": users[0], "roles": [role.key]}, {"id": users[4], "roles": [role.key]})

    seen: list[str] = []
    params: dict[str, Any] = {"page_size": 2}
    path = f"/organizations/{org}/roles/{role.id}/users"
    for _ in range(5):
        body = mm.ok("GET", ROLE_USERS, path, params=params)
        seen.extend(u["id"] for u in body["users"])
        if body.get("next_token") is None:
            break
        params["next_token"] = body["next_token"]
    assert seen == users[:3]
    resp = mm.request(
        "GET",
        f"/organizations/{org2}/roles/{role.id}/users",
        params={"next_token": params["next_token"]},
    )
    assert_error(resp, 400, "INVALID_NEXT_TOKEN")

    count = mm.ok("GET", ROLE_USERS_COUNT, f"{path}/count")
    assert count == {"code": "OK", "message": "Success", "count": 3}
    assert (
        mm.ok("GET", ROLE_USERS_COUNT, f"/organizations/{org2}/roles/{role.id}/users/count")[
            "count"
        ]
        == 2
    )
    empty = mm.create_role()
    assert mm.ok("GET", ROLE_USERS, f"/organizations/{org}/roles/{empty.id}/users")["users"] == []
    assert (
        mm.ok("GET", ROLE_USERS_COUNT, f"/organizations/{org}/roles/{empty.id}/users/count")[
            "count"
        ]
        == 0
    )

    across: list[dict[str, Any]] = []
    params = {"page_size": 1}
    for _ in range(10):
        body = mm.ok("GET", GLOBAL_ROLE_USERS, f"/roles/{role.id}/users", params=params)
        across.extend(body["users"])
        if body.get("next_token") is None:
            break
        params["next_token"] = body["next_token"]
    assert [u["id"] for u in across] == [users[0], users[1], users[2], users[4]]
    assert {u["id"]: u["org_codes"] for u in across} == {
        users[0]: [org, org2],
        users[1]: [org],
        users[2]: [org],
        users[4]: [org2],
    }

    for concrete in (
        f"/organizations/{org}/roles/missing/users",
        f"/organizations/{org}/roles/missing/users/count",
        "/roles/missing/users",
    ):
        assert_error(mm.request("GET", concrete), 400, "ROLE_NOT_FOUND")
    resp = mm.request("GET", f"/organizations/org_{uid()}/roles/{role.id}/users")
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    resp = mm.request("GET", f"/organizations/org_{uid()}/roles/{role.id}/users/count")
    assert_error(resp, 400, "ORGANIZATION_NOT_FOUND")
    assert_error(mm.request("GET", path, params={"page_size": 501}), 400)
    resp = mm.request("GET", f"/roles/{role.id}/users", params={"next_token": "x"})
    assert_error(resp, 400, "INVALID_NEXT_TOKEN")


def test_active_role_users_count(mm: Members, server: KindlingServer) -> None:
    org = mm.create_org()
    role = mm.create_role()
    users = [mm.user(f"a{i}") for i in range(5)]
    mm.add(org, *({"id": u, "roles": [role.key]} for u in users[:4]), users[4])
    set_last_access(server, org, users[0], "2026-07-01T00:00:00+00:00")
    set_last_access(server, org, users[1], "2026-07-02T12:30:00.250000+00:00")
    set_last_access(server, org, users[2], "2026-07-03T23:59:59+00:00")
    # users[3] never accessed; users[4] accessed but lacks the role.
    set_last_access(server, org, users[4], "2026-07-02T00:00:00+00:00")
    path = f"/organizations/{org}/roles/{role.id}/active_users/count"

    def count(since: str, until: str) -> dict[str, Any]:
        body: dict[str, Any] = mm.ok(
            "GET",
            ROLE_ACTIVE_COUNT,
            path,
            params={"date_time_from": since, "date_time_to": until},
        )
        return body

    body = count("2026-07-01T00:00:00Z", "2026-07-03T23:59:59Z")
    assert body == {
        "code": "OK",
        "message": "Success",
        "active_users_count": 3,
        "date_time_from": "2026-07-01T00:00:00Z",
        "date_time_to": "2026-07-03T23:59:59Z",
    }
    assert count("2026-07-01T00:00:01Z", "2026-07-03T23:59:58Z")["active_users_count"] == 1
    # Fractional seconds: "from" rounds down, "to" rounds up (bounds stay inclusive).
    body = count("2026-07-01T00:00:00.900Z", "2026-07-03T23:59:58.100Z")
    assert body["active_users_count"] == 3
    assert body["date_time_from"] == "2026-07-01T00:00:00Z"
    assert body["date_time_to"] == "2026-07-03T23:59:59Z"
    # Offsets are converted to UTC; Python's SDK sends "+0000".
    body = count("2026-07-02T14:30:00+02:00", "2026-07-02T12:30:01.000000+0000")
    assert body["active_users_count"] == 1
    assert body["date_time_from"] == "2026-07-02T12:30:00Z"
    # An unencoded "+" arrives as a space.
    resp = mm.request(
        "GET", f"{path}?date_time_from=2026-07-01T00:00:00+00:00&date_time_to=2026-07-01T00:00:00"
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["active_users_count"] == 1

    def bad(since: str | None, until: str | None, code: str) -> None:
        params = {k: v for k, v in (("date_time_from", since), ("date_time_to", until)) if v}
        assert_error(mm.request("GET", path, params=params), 400, code)

    bad("2026-07-01T00:00:00Z", "2026-07-04T00:00:00Z", "DATE_TIME_RANGE_TOO_LARGE")
    bad("2026-07-01T00:00:00Z", "2026-07-03T23:59:59.001Z", "DATE_TIME_RANGE_TOO_LARGE")
    bad("2026-07-02T00:00:00Z", "2026-07-01T00:00:00Z", "INVALID_DATE_TIME_RANGE")
    bad("yesterday", "2026-07-01T00:00:00Z", "INVALID_DATE_TIME")
    bad("2026-07-01", "2026-07-01T00:00:00Z", "INVALID_DATE_TIME")
    bad("2026-13-01T00:00:00Z", "2026-07-01T00:00:00Z", "INVALID_DATE_TIME")
    bad(None, "2026-07-01T00:00:00Z", "DATE_TIME_FROM_REQUIRED")
    bad("2026-07-01T00:00:00Z", None, "DATE_TIME_TO_REQUIRED")
    resp = mm.request(
        "GET",
        f"/organizations/{org}/roles/missing/active_users/count",
        params={"date_time_from": "2026-07-01T00:00:00Z", "date_time_to": "2026-07-01T01:00:00Z"},
    )
    assert_error(resp, 400, "ROLE_NOT_FOUND")


# --- cascades ---------------------------------------------------------------------------

_MEMBER_TABLES = (
    "organization_users",
    "organization_user_roles",
    "organization_user_permissions",
    "organization_user_api_scopes",
)


def _holdings(server: KindlingServer, org: str, user: str) -> dict[str, int]:
    counts = {
        table: db_count(server, table, "org_code = ? AND user_id = ?", (org, user))
        for table in _MEMBER_TABLES
    }
    counts["user_mfa_factors"] = db_count(
        server, "user_mfa_factors", "org_code = ? AND user_id = ?", (org, user)
    )
    return counts


def _member_with_everything(mm: Members, server: KindlingServer, org: str) -> str:
    role, permission = mm.create_role(), mm.create_permission()
    api_id, _ = mm.create_api()
    scope_id = mm.add_scope(api_id, f"read:{uid()}")
    user = mm.user()
    mm.add(org, {"id": user, "roles": [role.key], "permissions": [permission.key]})
    resp = mm.request("POST", f"/organizations/{org}/users/{user}/apis/{api_id}/scopes/{scope_id}")
    assert resp.status_code == 200, resp.text
    add_mfa_factor(server, user, org, "email")
    assert _holdings(server, org, user) == {
        "organization_users": 1,
        "organization_user_roles": 1,
        "organization_user_permissions": 1,
        "organization_user_api_scopes": 1,
        "user_mfa_factors": 1,
    }
    return user


def test_removing_a_member_removes_what_it_held(mm: Members, server: KindlingServer) -> None:
    org = mm.create_org()
    user = _member_with_everything(mm, server, org)
    mm.ok("DELETE", USER, f"/organizations/{org}/users/{user}")
    assert set(_holdings(server, org, user).values()) == {0}
    # Rejoining starts from nothing.
    mm.add(org, user)
    assert mm.role_keys(org, user) == []


def test_deleting_the_user_removes_memberships(mm: Members, server: KindlingServer) -> None:
    org = mm.create_org()
    user = _member_with_everything(mm, server, org)
    mm.ok("DELETE", "/user", params={"id": user})
    assert set(_holdings(server, org, user).values()) == {0}
    assert mm.members(org) == []


def test_deleting_the_organization_removes_memberships(mm: Members, server: KindlingServer) -> None:
    org = mm.create_org()
    user = _member_with_everything(mm, server, org)
    resp = mm.request("DELETE", f"/organization/{org}")
    assert resp.status_code == 200, resp.text
    held = _holdings(server, org, user)
    assert {t: held[t] for t in _MEMBER_TABLES} == dict.fromkeys(_MEMBER_TABLES, 0)
    assert mm.ok("GET", "/user", params={"id": user})["id"] == user


def test_deleting_a_role_or_permission_removes_it_from_members(mm: Members) -> None:
    org = mm.create_org()
    role, permission = mm.create_role(), mm.create_permission()
    user = mm.user()
    mm.add(org, {"id": user, "roles": [role.key], "permissions": [permission.key]})
    assert mm.role_keys(org, user) == [role.key]
    resp = mm.request("DELETE", f"/roles/{role.id}")
    assert resp.status_code == 200, resp.text
    resp = mm.request("DELETE", f"/permissions/{permission.id}")
    assert resp.status_code == 200, resp.text
    assert mm.role_keys(org, user) == []
    body = mm.ok("GET", USER_PERMISSIONS, f"/organizations/{org}/users/{user}/permissions")
    assert body["permissions"] == []
    assert mm.member_ids(org) == [user]
