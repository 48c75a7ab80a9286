"""Roles and system permissions."""

from typing import Any, cast

from kindling.platform.operations import Call, Router
from kindling.platform.pagination import Keyed, keyset_page
from kindling.platform.params import NEXT_TOKEN, PAGE_SIZE, Query
from kindling.platform.render import compact, paged, success
from kindling.resources.permissions.model import Permission, permission_item
from kindling.resources.permissions.service import SORTS as PERMISSION_SORTS
from kindling.resources.roles import service
from kindling.resources.roles.model import Role

router = Router("Roles")
SORT = Query.enum("sort", service.SORTS)
ROLE_LIST_QUERY = (SORT, PAGE_SIZE, NEXT_TOKEN)
#: ``sort`` of a role's permission listings, with the permissions' own sort values.
PERMISSION_SORT = Query.enum("sort", PERMISSION_SORTS)
LIST_QUERY = (PERMISSION_SORT, PAGE_SIZE, NEXT_TOKEN)


def role_item(role: Role) -> dict[str, Any]:
    """A role in ``GET /roles`` (``description`` is nullable there)."""
    return {
        "id": role.id,
        "key": role.key,
        "name": role.name,
        "description": role.description,
        "is_default_role": role.is_default_role,
    }


def system_permission_item(permission: service.SystemPermission) -> dict[str, Any]:
    return {
        "id": permission.id,
        "key": permission.key,
        "name": permission.name,
        "description": permission.description,
    }


@router.operation(
    "GET", "/roles", scope="read:roles", operation_id="GetRoles", query=ROLE_LIST_QUERY
)
def get_roles(call: Call) -> dict[str, Any]:
    storage = call.ctx.storage

    def by_sort(sort: str, after: Keyed | None, size: int) -> tuple[list[Role], Keyed | None]:
        column, descending = service.SORTS[sort]
        return service.list_roles_sorted(storage, column, after, size, descending)

    items, token = keyset_page(
        call.ctx.cursors,
        "roles",
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        sort=call.param(SORT),
        by_sequence=lambda after, size: service.list_roles(storage, after, size),
        by_sort=by_sort,
    )
    return paged("roles", [role_item(r) for r in items], token)


@router.operation(
    "POST", "/roles", scope="create:roles", status=201, operation_id="CreateRole", body=True
)
def create_role(call: Call) -> dict[str, Any]:
    role = service.create_role(call.ctx.storage, call.ctx.clock, call.json(required=False))
    return success("Role successfully created", "ROLE_CREATED", role={"id": role.id})


@router.operation("GET", "/roles/{role_id}", scope="read:roles", operation_id="GetRole")
def get_role(call: Call) -> dict[str, Any]:
    role = service.get_role(call.ctx.storage, call.path["role_id"])
    return success(
        "Success",
        role=compact(
            {
                "id": role.id,
                "key": role.key,
                "name": role.name,
                "description": role.description,
                "is_default_role": role.is_default_role,
            }
        ),
    )


@router.operation(
    "PATCH",
    "/roles/{role_id}",
    scope="update:roles",
    status=201,
    operation_id="UpdateRoles",
    body=True,
)
def update_roles(call: Call) -> dict[str, Any]:
    service.update_role(call.ctx.storage, call.path["role_id"], call.json(required=False))
    return success("Role successfully updated", "ROLE_UPDATED")


@router.operation("DELETE", "/roles/{role_id}", scope="delete:roles", operation_id="DeleteRole")
def delete_role(call: Call) -> dict[str, Any]:
    service.delete_role(call.ctx.storage, call.path["role_id"])
    return success("Role successfully deleted", "ROLE_DELETED")


# --- role permissions ---------------------------------------------------------------


@router.operation(
    "GET",
    "/roles/{role_id}/permissions",
    scope="read:role_permissions",
    operation_id="GetRolePermissions",
    query=LIST_QUERY,
)
def get_role_permissions(call: Call) -> dict[str, Any]:
    storage, role_id = call.ctx.storage, call.path["role_id"]

    def by_sort(sort: str, after: Keyed | None, size: int) -> tuple[list[Permission], Keyed | None]:
        column, descending = PERMISSION_SORTS[sort]
        return service.list_role_permissions_sorted(
            storage, role_id, column, after, size, descending
        )

    items, token = keyset_page(
        call.ctx.cursors,
        f"role_permissions|{role_id}",
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        sort=call.param(PERMISSION_SORT),
        by_sequence=lambda after, size: service.list_role_permissions(
            storage, role_id, after, size
        ),
        by_sort=by_sort,
    )
    return paged("permissions", [permission_item(p) for p in items], token)


@router.operation(
    "PATCH",
    "/roles/{role_id}/permissions",
    scope="update:role_permissions",
    operation_id="UpdateRolePermissions",
    body=True,
)
def update_role_permissions(call: Call) -> dict[str, Any]:
    changes = service.update_role_permissions(
        call.ctx.storage, call.path["role_id"], call.json().get("permissions")
    )
    return success(
        "Permissions successfully updated",
        "PERMISSIONS_UPDATED",
        permissions_added=changes.added,
        permissions_removed=changes.removed,
    )


@router.operation(
    "DELETE",
    "/roles/{role_id}/permissions/{permission_id}",
    scope="delete:role_permissions",
    operation_id="RemoveRolePermission",
)
def remove_role_permission(call: Call) -> dict[str, Any]:
    service.remove_role_permission(
        call.ctx.storage, call.path["role_id"], call.path["permission_id"]
    )
    return success("Permission successfully removed from role", "PERMISSION_REMOVED")


# --- role scopes --------------------------------------------------------------------


@router.operation(
    "GET", "/roles/{role_id}/scopes", scope="read:role_scopes", operation_id="GetRoleScopes"
)
def get_role_scopes(call: Call) -> dict[str, Any]:
    scopes = service.role_scopes(call.ctx.storage, call.path["role_id"])
    return success(
        "Success",
        scopes=[
            compact({"id": s.id, "key": s.key, "description": s.description, "api_id": s.api_id})
            for s in scopes
        ],
    )


@router.operation(
    "POST",
    "/roles/{role_id}/scopes",
    scope="create:role_scopes",
    status=201,
    operation_id="AddRoleScope",
    body=True,
)
def add_role_scope(call: Call) -> dict[str, Any]:
    service.add_role_scope(call.ctx.storage, call.path["role_id"], call.json())
    return success("Scope added to role", "ROLE_SCOPE_ADDED")


@router.operation(
    "DELETE",
    "/roles/{role_id}/scopes/{scope_id}",
    scope="delete:role_scopes",
    operation_id="DeleteRoleScope",
)
def delete_role_scope(call: Call) -> dict[str, Any]:
    service.delete_role_scope(call.ctx.storage, call.path["role_id"], call.path["scope_id"])
    return success("Scope deleted from role", "SCOPE_DELETED")


# --- system permissions -------------------------------------------------------------


def _catalogue_listing(call: Call, listing: str, run: service.CatalogueLister) -> dict[str, Any]:
    """Page the system-permission catalogue (creation order is the catalogue's order)."""

    def by_sequence(
        after: int | None, size: int
    ) -> tuple[list[service.SystemPermission], int | None]:
        items, position = run(None, after, size)
        return items, cast(int | None, position)

    def by_sort(
        sort: str, after: Keyed | None, size: int
    ) -> tuple[list[service.SystemPermission], Keyed | None]:
        items, position = run(PERMISSION_SORTS[sort], after, size)
        return items, cast(Keyed | None, position)

    items, token = keyset_page(
        call.ctx.cursors,
        listing,
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        sort=call.param(PERMISSION_SORT),
        by_sequence=by_sequence,
        by_sort=by_sort,
    )
    return paged("system_permissions", [system_permission_item(p) for p in items], token)


@router.operation(
    "GET",
    "/system_permissions",
    scope="read:system_permissions",
    operation_id="GetSystemPermissions",
    query=LIST_QUERY,
)
def get_system_permissions(call: Call) -> dict[str, Any]:
    return _catalogue_listing(call, "system_permissions", service.list_system_permissions)


@router.operation(
    "GET",
    "/roles/{role_id}/system_permissions",
    scope="read:role_system_permissions",
    operation_id="GetRoleSystemPermissions",
    query=LIST_QUERY,
)
def get_role_system_permissions(call: Call) -> dict[str, Any]:
    storage, role_id = call.ctx.storage, call.path["role_id"]
    return _catalogue_listing(
        call,
        f"role_system_permissions|{role_id}",
        lambda order, after, size: service.list_role_system_permissions(
            storage, role_id, order, after, size
        ),
    )


@router.operation(
    "PATCH",
    "/roles/{role_id}/system_permissions",
    scope="update:role_system_permissions",
    operation_id="UpdateRoleSystemPermissions",
    body=True,
)
def update_role_system_permissions(call: Call) -> dict[str, Any]:
    changes = service.update_role_system_permissions(
        call.ctx.storage, call.path["role_id"], call.json().get("system_permissions")
    )
    return success(
        "System permissions successfully updated",
        "SYSTEM_PERMISSIONS_UPDATED",
        system_permissions_added=changes.added,
        system_permissions_removed=changes.removed,
    )
