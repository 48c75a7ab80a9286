"""The official Kinde Python SDK calls every organization-membership operation over TLS.

``client.organizations_api`` (members, their roles, permissions, API scopes and MFA, role
users and counts) and ``client.roles_api.get_role_users``. The SDK returns None silently
when the status differs from the spec and raises on type mismatches, so every call is
checked for a typed, non-None result with the expected values. Organizations, roles,
permissions and APIs are set up over HTTP; MFA factors, last access times and role
permissions (which the API cannot write) go straight into the server's SQLite file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException, NotFoundException
from kinde_sdk.management.models import (
    AddOrganizationUsersRequest,
    AddOrganizationUsersRequestUsersInner,
    AddOrganizationUsersResponse,
    CreateOrganizationUserPermissionRequest,
    CreateOrganizationUserRoleRequest,
    GetOrganizationRoleActiveUsersCountResponse,
    GetOrganizationRoleUsersCountResponse,
    GetOrganizationRoleUsersResponse,
    GetOrganizationsUserPermissionsResponse,
    GetOrganizationsUserRolesResponse,
    GetOrganizationUsersResponse,
    GetRoleUsersResponse,
    GetUserMfaResponse,
    OrganizationUser,
    SuccessResponse,
    UpdateOrganizationUsersRequest,
    UpdateOrganizationUsersRequestUsersInner,
    UpdateOrganizationUsersResponse,
)

from kindling.platform.engine import SqliteEngine
from tests.support import KindlingServer


def _uid() -> str:
    return uuid.uuid4().hex[:12]


class Setup:
    """Creates what the membership operations need, over HTTP and in the database."""

    def __init__(self, server: KindlingServer) -> None:
        self.server = server
        self.http = server.client()
        self.headers = {"Authorization": f"Bearer {server.token()}"}
        self.db = SqliteEngine(server.data_dir / "kindling.db")

    def close(self) -> None:
        self.http.close()
        self.db.close()

    def _post(self, path: str, body: dict[str, Any], status: int) -> httpx.Response:
        resp = self.http.post(f"/api/v1{path}", json=body, headers=self.headers)
        assert resp.status_code == status, resp.text
        return resp

    def org(self) -> str:
        resp = self._post("/organization", {"name": f"sdk-org-{_uid()}"}, 200)
        return str(resp.json()["organization"]["code"])

    def role(self) -> tuple[str, str]:
        key = f"sdk_role_{_uid()}"
        resp = self._post("/roles", {"name": f"Role {key}", "key": key}, 201)
        return str(resp.json()["role"]["id"]), key

    def permission(self) -> tuple[str, str]:
        key = f"sdk_perm_{_uid()}"
        self._post("/permissions", {"name": f"Permission {key}", "key": key}, 201)
        with self.db.session(write=False) as s:
            row = s.one("SELECT id FROM permissions WHERE key = ?", (key,))
        assert row is not None
        return str(row["id"]), key

    def user(self, first: str) -> str:
        email = f"sdk-{_uid()}@example.com"
        body = {
            "profile": {"given_name": first, "family_name": "Sdk"},
            "identities": [{"type": "email", "details": {"email": email}}],
        }
        return str(self._post("/user", body, 200).json()["id"])

    def api_scope(self) -> tuple[str, str]:
        audience = f"https://sdk-{_uid()}.example.com"
        api = self._post("/apis", {"name": f"sdk-{_uid()}", "audience": audience}, 200)
        api_id = str(api.json()["api"]["id"])
        scope = self._post(f"/apis/{api_id}/scopes", {"key": f"read:{_uid()}"}, 200)
        return api_id, str(scope.json()["scope"]["id"])

    def sql(self, statement: str, params: tuple[Any, ...]) -> int:
        with self.db.session(write=True) as s:
            return s.execute(statement, params)


@pytest.fixture
def setup(tls_server: KindlingServer) -> Iterator[Setup]:
    helper = Setup(tls_server)
    yield helper
    helper.close()


def test_members_through_the_sdk(client: ManagementClient, setup: Setup) -> None:
    api = client.organizations_api
    org = setup.org()
    _, role_key = setup.role()
    _, perm_key = setup.permission()
    ada, bob, cy = setup.user("Ada"), setup.user("Bob"), setup.user("Cy")

    added = api.add_organization_users(
        org,
        AddOrganizationUsersRequest(
            users=[
                AddOrganizationUsersRequestUsersInner(
                    id=ada, roles=[role_key], permissions=[perm_key]
                ),
                AddOrganizationUsersRequestUsersInner(id=bob),
            ]
        ),
    )
    assert isinstance(added, AddOrganizationUsersResponse)
    assert added.users_added == [ada, bob]

    listing = api.get_organization_users(org, sort="name_desc", page_size=1)
    assert isinstance(listing, GetOrganizationUsersResponse)
    assert listing.organization_users is not None and len(listing.organization_users) == 1
    first = listing.organization_users[0]
    assert isinstance(first, OrganizationUser)
    assert first.id == bob
    assert first.full_name == "Bob Sdk"
    assert first.is_suspended is False
    assert first.roles == []
    assert listing.next_token is not None
    rest = api.get_organization_users(
        org, sort="name_desc", page_size=1, next_token=listing.next_token
    )
    assert isinstance(rest, GetOrganizationUsersResponse)
    assert [u.id for u in rest.organization_users or []] == [ada]
    assert rest.organization_users is not None and rest.organization_users[0].roles == [role_key]
    assert rest.next_token is None

    filtered = api.get_organization_users(org, roles=role_key, permissions=perm_key)
    assert isinstance(filtered, GetOrganizationUsersResponse)
    assert [u.id for u in filtered.organization_users or []] == [ada]

    updated = api.update_organization_users(
        org,
        UpdateOrganizationUsersRequest(
            users=[
                UpdateOrganizationUsersRequestUsersInner(id=ada, operation="delete"),
                UpdateOrganizationUsersRequestUsersInner(id=bob, roles=[role_key]),
                UpdateOrganizationUsersRequestUsersInner(id=cy),
            ]
        ),
    )
    assert isinstance(updated, UpdateOrganizationUsersResponse)
    assert updated.users_removed == [ada]
    assert updated.users_updated == [bob]
    assert updated.users_added == [cy]

    removed = api.remove_organization_user(org, cy)
    assert isinstance(removed, SuccessResponse)
    assert removed.code == "OK"
    remaining = api.get_organization_users(org)
    assert isinstance(remaining, GetOrganizationUsersResponse)
    assert [u.id for u in remaining.organization_users or []] == [bob]

    with pytest.raises(BadRequestException) as failed:
        api.add_organization_users(
            org,
            AddOrganizationUsersRequest(
                users=[AddOrganizationUsersRequestUsersInner(id=ada, roles=["no_such_role"])]
            ),
        )
    assert failed.value.status == 400
    assert "ROLE_NOT_FOUND" in str(failed.value.body)


def test_member_roles_permissions_and_scopes_through_the_sdk(
    client: ManagementClient, setup: Setup
) -> None:
    api = client.organizations_api
    org = setup.org()
    role_id, role_key = setup.role()
    perm_id, perm_key = setup.permission()
    via_role_id, via_role_key = setup.permission()
    setup.sql(
        "INSERT INTO role_permissions (role_id, permission_id) VALUES (?, ?)",
        (role_id, via_role_id),
    )
    user = setup.user("Roles")
    setup.sql(
        "INSERT INTO organization_users (org_code, user_id, joined_on) VALUES (?, ?, ?)",
        (org, user, "2026-01-01T00:00:00+00:00"),
    )

    added = api.create_organization_user_role(
        org, user, CreateOrganizationUserRoleRequest(role_id=role_id)
    )
    assert isinstance(added, SuccessResponse) and added.code == "OK"
    roles = api.get_organization_user_roles(org, user)
    assert isinstance(roles, GetOrganizationsUserRolesResponse)
    assert [(r.id, r.key) for r in roles.roles or []] == [(role_id, role_key)]

    granted = api.create_organization_user_permission(
        org, user, CreateOrganizationUserPermissionRequest(permission_id=perm_id)
    )
    assert isinstance(granted, SuccessResponse) and granted.code == "OK"
    permissions = api.get_organization_user_permissions(org, user, expand="roles")
    assert isinstance(permissions, GetOrganizationsUserPermissionsResponse)
    by_key = {p.key: p for p in permissions.permissions or []}
    assert set(by_key) == {perm_key, via_role_key}
    assert by_key[perm_key].id == perm_id
    assert by_key[perm_key].roles == []
    assert [(r.id, r.key) for r in by_key[via_role_key].roles or []] == [(role_id, role_key)]

    removed = api.delete_organization_user_permission(org, user, perm_id)
    assert isinstance(removed, SuccessResponse) and removed.code == "OK"
    left = api.get_organization_user_permissions(org, user)
    assert isinstance(left, GetOrganizationsUserPermissionsResponse)
    assert [p.key for p in left.permissions or []] == [via_role_key]
    assert (left.permissions or [])[0].roles is None

    dropped = api.delete_organization_user_role(org, user, role_id)
    assert isinstance(dropped, SuccessResponse) and dropped.code == "OK"
    empty = api.get_organization_user_roles(org, user)
    assert isinstance(empty, GetOrganizationsUserRolesResponse)
    assert empty.roles == []

    api_id, scope_id = setup.api_scope()

    # Both scope operations have no response body in the spec: check the status and the row.
    def granted() -> int:
        with setup.db.session(write=False) as s:
            row = s.one(
                "SELECT COUNT(*) AS n FROM organization_user_api_scopes WHERE org_code = ? "
                "AND user_id = ? AND api_id = ? AND scope_id = ?",
                (org, user, api_id, scope_id),
            )
        assert row is not None
        return int(row["n"])

    response = api.add_organization_user_api_scope_with_http_info(org, user, api_id, scope_id)
    assert response.status_code == 200
    assert granted() == 1
    with pytest.raises(BadRequestException) as twice:
        api.add_organization_user_api_scope(org, user, api_id, scope_id)
    assert "SCOPE_ALREADY_ASSIGNED" in str(twice.value.body)
    assert api.delete_organization_user_api_scope(org, user, api_id, scope_id) is None
    assert granted() == 0
    with pytest.raises(BadRequestException):
        api.delete_organization_user_api_scope_with_http_info(org, user, api_id, scope_id)
    response = api.add_organization_user_api_scope_with_http_info(org, user, api_id, scope_id)
    assert response.status_code == 200
    response = api.delete_organization_user_api_scope_with_http_info(org, user, api_id, scope_id)
    assert response.status_code == 200
    assert granted() == 0


def test_member_mfa_through_the_sdk(client: ManagementClient, setup: Setup) -> None:
    api = client.organizations_api
    org = setup.org()
    user = setup.user("Mfa")
    setup.sql(
        "INSERT INTO organization_users (org_code, user_id, joined_on) VALUES (?, ?, ?)",
        (org, user, "2026-01-01T00:00:00+00:00"),
    )
    with pytest.raises(NotFoundException):
        api.get_org_user_mfa(org, user)
    factors = [f"mfa_{_uid()}", f"mfa_{_uid()}"]
    for factor in factors:
        setup.sql(
            "INSERT INTO user_mfa_factors (id, user_id, org_code, type, name, created_on) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (factor, user, org, "email", "mfa@example.com", "2024-11-18T13:31:46.795085+00:00"),
        )

    mfa = api.get_org_user_mfa(org, user)
    assert isinstance(mfa, GetUserMfaResponse)
    assert mfa.mfa is not None
    assert mfa.mfa.id == factors[0]
    assert mfa.mfa.type == "email"
    assert mfa.mfa.name == "mfa@example.com"
    assert mfa.mfa.created_on == datetime(2024, 11, 18, 13, 31, 46, 795085, tzinfo=UTC)

    reset_one = api.reset_org_user_mfa(org, user, factors[0])
    assert isinstance(reset_one, SuccessResponse) and reset_one.code == "OK"
    after = api.get_org_user_mfa(org, user)
    assert isinstance(after, GetUserMfaResponse)
    assert after.mfa is not None and after.mfa.id == factors[1]

    reset_all = api.reset_org_user_mfa_all(org, user)
    assert isinstance(reset_all, SuccessResponse) and reset_all.code == "OK"
    with pytest.raises(NotFoundException):
        api.get_org_user_mfa(org, user)


def test_role_users_and_counts_through_the_sdk(client: ManagementClient, setup: Setup) -> None:
    api = client.organizations_api
    org, org2 = setup.org(), setup.org()
    role_id, role_key = setup.role()
    users = [setup.user(f"R{i}") for i in range(3)]
    for code, members in ((org, users), (org2, users[:1])):
        added = api.add_organization_users(
            code,
            AddOrganizationUsersRequest(
                users=[
                    AddOrganizationUsersRequestUsersInner(id=u, roles=[role_key]) for u in members
                ]
            ),
        )
        assert isinstance(added, AddOrganizationUsersResponse)
        assert added.users_added == members
    setup.sql(
        "UPDATE organization_users SET last_accessed_on = ? WHERE org_code = ? AND user_id = ?",
        ("2026-07-02T10:00:00+00:00", org, users[1]),
    )

    page = api.get_organization_role_users(org, role_id, page_size=2)
    assert isinstance(page, GetOrganizationRoleUsersResponse)
    assert [u.id for u in page.users or []] == users[:2]
    assert page.next_token is not None
    last = api.get_organization_role_users(org, role_id, page_size=2, next_token=page.next_token)
    assert isinstance(last, GetOrganizationRoleUsersResponse)
    assert [u.id for u in last.users or []] == users[2:]
    assert last.next_token is None

    count = api.get_organization_role_users_count(org, role_id)
    assert isinstance(count, GetOrganizationRoleUsersCountResponse)
    assert count.count == 3

    since = datetime(2026, 7, 1, 0, 0, 0, 500000, tzinfo=UTC)
    until = datetime(2026, 7, 3, 23, 59, 58, 250000, tzinfo=UTC)
    active = api.get_organization_role_active_users_count(org, role_id, since, until)
    assert isinstance(active, GetOrganizationRoleActiveUsersCountResponse)
    assert active.active_users_count == 1
    assert active.date_time_from == datetime(2026, 7, 1, tzinfo=UTC)
    assert active.date_time_to == datetime(2026, 7, 3, 23, 59, 59, tzinfo=UTC)
    with pytest.raises(BadRequestException) as too_large:
        api.get_organization_role_active_users_count(
            org, role_id, since, datetime(2026, 7, 5, tzinfo=UTC)
        )
    assert "DATE_TIME_RANGE_TOO_LARGE" in str(too_large.value.body)

    across = client.roles_api.get_role_users(role_id, page_size=500)
    assert isinstance(across, GetRoleUsersResponse)
    assert {u.id: u.org_codes for u in across.users or []} == {
        users[0]: [org, org2],
        users[1]: [org],
        users[2]: [org],
    }
    assert across.next_token is None
