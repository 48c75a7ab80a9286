"""The official Python SDK drives every roles and permissions operation over TLS.

The SDK returns ``None`` when the status differs from the spec's (e.g. 201 for
``PATCH /roles/{id}``) and raises when a field has the wrong JSON type, so each
call is checked for a typed, non-None result with the values we expect.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.exceptions import BadRequestException
from kinde_sdk.management.models import (
    AddAPIScopeRequest,
    AddAPIsRequest,
    AddRoleScopeRequest,
    AddRoleScopeResponse,
    CreatePermissionRequest,
    CreateRoleRequest,
    CreateRolesResponse,
    DeleteRoleScopeResponse,
    GetPermissionsResponse,
    GetRoleResponse,
    GetRolesResponse,
    GetSystemPermissionsResponse,
    Permissions,
    RolePermissionsResponse,
    Roles,
    RoleScopesResponse,
    RoleSystemPermissionsResponse,
    Scopes,
    SuccessResponse,
    SystemPermissions,
    UpdateRolePermissionsRequest,
    UpdateRolePermissionsRequestPermissionsInner,
    UpdateRolePermissionsResponse,
    UpdateRolesRequest,
    UpdateRoleSystemPermissionsRequest,
    UpdateRoleSystemPermissionsRequestSystemPermissionsInner,
    UpdateRoleSystemPermissionsResponse,
)


def uid() -> str:
    return uuid.uuid4().hex[:10]


def all_permissions(client: ManagementClient) -> list[Permissions]:
    items: list[Permissions] = []
    token: str | None = None
    while True:
        page = client.permissions_api.get_permissions(page_size=500, next_token=token)
        assert isinstance(page, GetPermissionsResponse)
        items.extend(page.permissions or [])
        if not page.next_token:
            return items
        token = page.next_token


def create_permission(client: ManagementClient, name: str, key: str) -> str:
    created = client.permissions_api.create_permission(
        create_permission_request=CreatePermissionRequest(
            name=name, key=key, description=f"{name} description"
        )
    )
    assert isinstance(created, SuccessResponse)
    assert created.code == "PERMISSION_CREATED"
    found = [p for p in all_permissions(client) if p.key == key]
    assert len(found) == 1
    assert found[0].id is not None
    return str(found[0].id)


def create_role(client: ManagementClient, **fields: Any) -> str:
    created = client.roles_api.create_role(create_role_request=CreateRoleRequest(**fields))
    assert isinstance(created, CreateRolesResponse)
    assert created.code == "ROLE_CREATED"
    assert created.role is not None and created.role.id
    return str(created.role.id)


def test_permissions_api_create_list_update_delete(client: ManagementClient) -> None:
    key = f"read:sdk:{uid()}"
    permission_id = create_permission(client, "SDK permission", key)

    listing = client.permissions_api.get_permissions(sort="name_asc", page_size=5)
    assert isinstance(listing, GetPermissionsResponse)
    assert listing.code == "OK" and listing.permissions is not None
    assert all(isinstance(p, Permissions) for p in listing.permissions)
    assert len(listing.permissions) <= 5

    updated = client.permissions_api.update_permissions(
        permission_id,
        create_permission_request=CreatePermissionRequest(name="Renamed by SDK"),
    )
    assert isinstance(updated, SuccessResponse) and updated.code == "PERMISSION_UPDATED"
    found = next(p for p in all_permissions(client) if p.id == permission_id)
    assert (found.name, found.key, found.description) == (
        "Renamed by SDK",
        key,
        "SDK permission description",
    )

    deleted = client.permissions_api.delete_permission(permission_id)
    assert isinstance(deleted, SuccessResponse) and deleted.code == "PERMISSION_DELETED"
    assert not [p for p in all_permissions(client) if p.id == permission_id]
    with pytest.raises(BadRequestException) as caught:
        client.permissions_api.delete_permission(permission_id)
    assert "PERMISSION_NOT_FOUND" in str(caught.value.body)


def test_roles_api_every_operation(client: ManagementClient) -> None:
    permission_id = create_permission(client, "Role permission", f"write:sdk:{uid()}")
    key = f"sdk-role-{uid()}"
    role_id = create_role(
        client,
        name="SDK role",
        key=key,
        description="Made by the SDK",
        is_default_role=False,
        assignment_permission_id=UUID(permission_id),
    )

    got = client.roles_api.get_role(role_id)
    assert isinstance(got, GetRoleResponse) and got.role is not None
    assert (got.role.id, got.role.key, got.role.name, got.role.description) == (
        role_id,
        key,
        "SDK role",
        "Made by the SDK",
    )
    assert got.role.is_default_role is False

    roles = client.roles_api.get_roles(sort="key_desc", page_size=500)
    assert isinstance(roles, GetRolesResponse) and roles.roles is not None
    assert all(isinstance(r, Roles) for r in roles.roles)
    assert any(r.id == role_id for r in roles.roles) or roles.next_token

    # PATCH answers 201: the SDK only deserializes that exact status.
    updated = client.roles_api.update_roles(
        role_id,
        update_roles_request=UpdateRolesRequest(
            name="SDK role v2", key=key + "-v2", is_default_role=True
        ),
    )
    assert updated is not None
    assert isinstance(updated, SuccessResponse) and updated.code == "ROLE_UPDATED"
    again = client.roles_api.get_role(role_id)
    assert again.role is not None
    assert (again.role.name, again.role.key, again.role.is_default_role) == (
        "SDK role v2",
        key + "-v2",
        True,
    )

    # Permissions of the role.
    changed = client.roles_api.update_role_permissions(
        role_id,
        UpdateRolePermissionsRequest(
            permissions=[UpdateRolePermissionsRequestPermissionsInner(id=permission_id)]
        ),
    )
    assert isinstance(changed, UpdateRolePermissionsResponse)
    assert changed.permissions_added == [permission_id] and changed.permissions_removed == []
    role_permissions = client.roles_api.get_role_permissions(role_id, sort="name_asc", page_size=10)
    assert isinstance(role_permissions, RolePermissionsResponse)
    assert [p.id for p in role_permissions.permissions or []] == [permission_id]
    removed = client.roles_api.remove_role_permission(role_id, permission_id)
    assert isinstance(removed, SuccessResponse) and removed.code == "PERMISSION_REMOVED"
    changed = client.roles_api.update_role_permissions(
        role_id,
        UpdateRolePermissionsRequest(
            permissions=[
                UpdateRolePermissionsRequestPermissionsInner(id=permission_id),
            ]
        ),
    )
    assert changed.permissions_added == [permission_id]  # removed above, so added again
    changed = client.roles_api.update_role_permissions(
        role_id,
        UpdateRolePermissionsRequest(
            permissions=[
                UpdateRolePermissionsRequestPermissionsInner(id=permission_id, operation="delete")
            ]
        ),
    )
    assert changed.permissions_removed == [permission_id]
    empty = client.roles_api.get_role_permissions(role_id)
    assert isinstance(empty, RolePermissionsResponse) and not empty.permissions

    # API scopes of the role.
    api = client.apis_api.add_apis(
        AddAPIsRequest(name=f"SDK API {uid()}", audience=f"urn:sdk-roles:{uid()}")
    )
    assert api is not None and api.api is not None and api.api.id
    scope = client.apis_api.add_api_scope(
        api.api.id, AddAPIScopeRequest(key="read:widgets", description="Read widgets")
    )
    assert scope is not None and scope.scope is not None and scope.scope.id
    scope_id = scope.scope.id
    added = client.roles_api.add_role_scope(role_id, AddRoleScopeRequest(scope_id=scope_id))
    assert isinstance(added, AddRoleScopeResponse) and added.code == "ROLE_SCOPE_ADDED"
    scopes = client.roles_api.get_role_scopes(role_id)
    assert isinstance(scopes, RoleScopesResponse) and scopes.scopes is not None
    assert len(scopes.scopes) == 1 and isinstance(scopes.scopes[0], Scopes)
    assert (scopes.scopes[0].id, scopes.scopes[0].key, scopes.scopes[0].api_id) == (
        scope_id,
        "read:widgets",
        api.api.id,
    )
    dropped = client.roles_api.delete_role_scope(role_id, scope_id)
    assert isinstance(dropped, DeleteRoleScopeResponse) and dropped.code == "SCOPE_DELETED"
    assert not client.roles_api.get_role_scopes(role_id).scopes

    # System permissions.
    catalogue = client.roles_api.get_system_permissions(sort="id_asc", page_size=100)
    assert isinstance(catalogue, GetSystemPermissionsResponse)
    assert catalogue.system_permissions and catalogue.next_token is None
    assert all(isinstance(p, SystemPermissions) for p in catalogue.system_permissions)
    ids = [p.id for p in catalogue.system_permissions]
    assert ids == sorted(str(i) for i in ids)
    billing = next(p for p in catalogue.system_permissions if p.key == "org:write:billing")
    assert billing.id is not None
    system = client.roles_api.update_role_system_permissions(
        role_id,
        UpdateRoleSystemPermissionsRequest(
            system_permissions=[
                UpdateRoleSystemPermissionsRequestSystemPermissionsInner(id=billing.id)
            ]
        ),
    )
    assert isinstance(system, UpdateRoleSystemPermissionsResponse)
    assert system.system_permissions_added == [billing.id]
    assert system.system_permissions_removed == []
    held = client.roles_api.get_role_system_permissions(role_id, sort="name_asc", page_size=5)
    assert isinstance(held, RoleSystemPermissionsResponse)
    assert [p.key for p in held.system_permissions or []] == ["org:write:billing"]
    system = client.roles_api.update_role_system_permissions(
        role_id,
        UpdateRoleSystemPermissionsRequest(
            system_permissions=[
                UpdateRoleSystemPermissionsRequestSystemPermissionsInner(
                    id=billing.id, operation="delete"
                )
            ]
        ),
    )
    assert system.system_permissions_removed == [billing.id]

    deleted = client.roles_api.delete_role(role_id)
    assert isinstance(deleted, SuccessResponse) and deleted.code == "ROLE_DELETED"
    with pytest.raises(BadRequestException) as caught:
        client.roles_api.get_role(role_id)
    assert "ROLE_NOT_FOUND" in str(caught.value.body)


def test_sdk_errors_are_bad_requests(client: ManagementClient) -> None:
    key = f"dup-{uid()}"
    create_role(client, name="Dup", key=key)
    with pytest.raises(BadRequestException) as caught:
        client.roles_api.create_role(create_role_request=CreateRoleRequest(name="Dup", key=key))
    assert "ROLE_KEY_EXISTS" in str(caught.value.body)
    with pytest.raises(BadRequestException) as caught:
        client.roles_api.get_roles(sort="newest")
    assert "INVALID_SORT" in str(caught.value.body)


def test_deprecated_role_shortcuts(client: ManagementClient) -> None:
    key = f"legacy-{uid()}"
    with pytest.warns(DeprecationWarning):
        created = client.create_role(create_role_request=CreateRoleRequest(name="Legacy", key=key))
    assert isinstance(created, CreateRolesResponse)
    assert created.role is not None and created.role.id
    role_id = created.role.id
    with pytest.warns(DeprecationWarning):
        got = client.get_role(role_id)
    assert isinstance(got, GetRoleResponse) and got.role is not None and got.role.key == key
    with pytest.warns(DeprecationWarning):
        listing = client.get_roles(sort="name_desc", page_size=3)
    assert isinstance(listing, GetRolesResponse)
    assert listing.roles is not None and 1 <= len(listing.roles) <= 3
    with pytest.warns(DeprecationWarning):
        updated = client.update_role(
            role_id, UpdateRolesRequest(name="Legacy v2", key=key, description="Now described")
        )
    assert isinstance(updated, SuccessResponse) and updated.code == "ROLE_UPDATED"
    again = client.roles_api.get_role(role_id)
    assert again.role is not None
    assert (again.role.name, again.role.description) == ("Legacy v2", "Now described")
    with pytest.warns(DeprecationWarning):
        deleted = client.delete_role(role_id)
    assert isinstance(deleted, SuccessResponse) and deleted.code == "ROLE_DELETED"
