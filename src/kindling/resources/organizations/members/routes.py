"""Organization users, their roles, permissions, API scopes and MFA; role users."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.pagination import keyset_page
from kindling.platform.params import NEXT_TOKEN, PAGE_SIZE, Query
from kindling.platform.render import compact, paged, success
from kindling.resources.organizations.members import service
from kindling.resources.organizations.members.model import MemberPermission, OrganizationMember

router = Router("Organizations")
#: ``GET /roles/{role_id}/users`` is tagged Roles in the spec but is about membership; its
#: operations are appended to ``router`` (each operation keeps its own tag).
roles_router = Router("Roles")
USERS = "/organizations/{org_code}/users"
USER = "/organizations/{org_code}/users/{user_id}"
ROLE = "/organizations/{org_code}/roles/{role_id}"
_NULLABLE = ("id", "email", "first_name", "last_name", "picture", "last_accessed_on")
#: Kinde refuses a blank ``sort`` here (``INVALID_SORT``); absent is name order.
SORT = Query.enum("sort", service.SORTS, blank_is_absent=False)
PERMISSIONS = Query.string("permissions")
ROLES = Query.string("roles")
EXPAND = Query.expand({"roles"})
DATE_TIME_FROM = Query.string("date_time_from", required=True)
DATE_TIME_TO = Query.string("date_time_to", required=True)


def _org_user(member: OrganizationMember) -> dict[str, Any]:
    full_name = " ".join(n for n in (member.first_name, member.last_name) if n)
    return compact(
        {
            "id": member.user_id,
            "email": member.email,
            "full_name": full_name or None,
            "last_name": member.last_name,
            "first_name": member.first_name,
            "picture": member.picture,
            "joined_on": member.joined_on,
            "last_accessed_on": member.last_accessed_on,
            "is_suspended": member.is_suspended,
            "roles": list(member.roles),
        },
        _NULLABLE,
    )


@router.operation(
    "GET",
    USERS,
    scope="read:organization_users",
    operation_id="GetOrganizationUsers",
    query=(SORT, PAGE_SIZE, NEXT_TOKEN, PERMISSIONS, ROLES),
)
def get_organization_users(call: Call) -> dict[str, Any]:
    storage, org_code = call.ctx.storage, call.path["org_code"]
    roles = service.parse_filter(call.param(ROLES), "roles")
    permissions = service.parse_filter(call.param(PERMISSIONS), "permissions")
    # The cursor is bound to the organization, the filters and the sort it was issued for.
    listing = "\x1f".join(["org_users", org_code, ",".join(roles), ",".join(permissions)])
    members, token = keyset_page(
        call.ctx.cursors,
        listing,
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        sort=call.param(SORT),
        by_sort=lambda sort, after, size: service.list_members(
            storage, org_code, after, size, *service.SORTS[sort], roles, permissions
        ),
        by_key=lambda after, size: service.list_members(
            storage, org_code, after, size, "", False, roles, permissions
        ),
    )
    return paged("organization_users", [_org_user(m) for m in members], token)


@router.operation(
    "POST",
    USERS,
    scope="create:organization_users",
    operation_id="AddOrganizationUsers",
    body=True,
)
def add_organization_users(call: Call) -> dict[str, Any]:
    added = service.add_users(
        call.ctx.storage, call.ctx.clock, call.path["org_code"], call.json(required=False)
    )
    return success("Users successfully added", "OK", users_added=added)


@router.operation(
    "PATCH",
    USERS,
    scope="update:organization_users",
    operation_id="UpdateOrganizationUsers",
    body=True,
)
def update_organization_users(call: Call) -> dict[str, Any]:
    result = service.update_users(
        call.ctx.storage, call.ctx.clock, call.path["org_code"], call.json(required=False)
    )
    return success(
        "Users successfully updated",
        "OK",
        users_added=result.added,
        users_updated=result.updated,
        users_removed=result.removed,
    )


@router.operation(
    "DELETE",
    USER,
    scope="delete:organization_users",
    operation_id="RemoveOrganizationUser",
)
def remove_organization_user(call: Call) -> dict[str, Any]:
    service.remove_user(call.ctx.storage, call.path["org_code"], call.path["user_id"])
    return success("User successfully removed from organization")


# --- roles ----------------------------------------------------------------------------


@router.operation(
    "GET",
    USER + "/roles",
    scope="read:organization_user_roles",
    operation_id="GetOrganizationUserRoles",
)
def get_organization_user_roles(call: Call) -> dict[str, Any]:
    roles = service.user_roles(call.ctx.storage, call.path["org_code"], call.path["user_id"])
    return paged("roles", [{"id": r.id, "key": r.key, "name": r.name} for r in roles], None)


@router.operation(
    "POST",
    USER + "/roles",
    scope="create:organization_user_roles",
    operation_id="CreateOrganizationUserRole",
    body=True,
)
def create_organization_user_role(call: Call) -> dict[str, Any]:
    service.add_user_role(
        call.ctx.storage,
        call.ctx.clock,
        call.path["org_code"],
        call.path["user_id"],
        call.json().get("role_id"),
    )
    return success("Role successfully added")


@router.operation(
    "DELETE",
    USER + "/roles/{role_id}",
    scope="delete:organization_user_roles",
    operation_id="DeleteOrganizationUserRole",
)
def delete_organization_user_role(call: Call) -> dict[str, Any]:
    service.remove_user_role(
        call.ctx.storage, call.path["org_code"], call.path["user_id"], call.path["role_id"]
    )
    return success("Role successfully removed")


# --- permissions ----------------------------------------------------------------------


def _permission(permission: MemberPermission, with_roles: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": permission.id,
        "key": permission.key,
        "name": permission.name,
        "description": permission.description,
    }
    if with_roles:
        item["roles"] = [{"id": r.id, "key": r.key} for r in permission.roles]
    return compact(item)


@router.operation(
    "GET",
    USER + "/permissions",
    scope="read:organization_user_permissions",
    operation_id="GetOrganizationUserPermissions",
    query=(EXPAND,),
)
def get_organization_user_permissions(call: Call) -> dict[str, Any]:
    expand = call.param(EXPAND)
    permissions = service.user_permissions(
        call.ctx.storage, call.path["org_code"], call.path["user_id"]
    )
    return success("Success", permissions=[_permission(p, "roles" in expand) for p in permissions])


@router.operation(
    "POST",
    USER + "/permissions",
    scope="create:organization_user_permissions",
    operation_id="CreateOrganizationUserPermission",
    body=True,
)
def create_organization_user_permission(call: Call) -> dict[str, Any]:
    service.add_user_permission(
        call.ctx.storage,
        call.path["org_code"],
        call.path["user_id"],
        call.json().get("permission_id"),
    )
    return success("User permission successfully updated")


@router.operation(
    "DELETE",
    USER + "/permissions/{permission_id}",
    scope="delete:organization_user_permissions",
    operation_id="DeleteOrganizationUserPermission",
)
def delete_organization_user_permission(call: Call) -> dict[str, Any]:
    service.remove_user_permission(
        call.ctx.storage,
        call.path["org_code"],
        call.path["user_id"],
        call.path["permission_id"],
    )
    return success("User permission successfully removed")


# --- API scopes -----------------------------------------------------------------------

API_SCOPE = USER + "/apis/{api_id}/scopes/{scope_id}"


def _api_scope(call: Call, granted: bool) -> None:
    service.set_user_api_scope(
        call.ctx.storage,
        call.path["org_code"],
        call.path["user_id"],
        call.path["api_id"],
        call.path["scope_id"],
        granted,
    )


@router.operation(
    "POST",
    API_SCOPE,
    scope="create:organization_user_api_scopes",
    operation_id="addOrganizationUserAPIScope",
    no_body=True,
)
def add_organization_user_api_scope(call: Call) -> None:
    _api_scope(call, granted=True)


@router.operation(
    "DELETE",
    API_SCOPE,
    scope="delete:organization_user_api_scopes",
    operation_id="deleteOrganizationUserAPIScope",
    no_body=True,
)
def delete_organization_user_api_scope(call: Call) -> None:
    _api_scope(call, granted=False)


# --- MFA --------------------------------------------------------------------------------


@router.operation(
    "GET",
    USER + "/mfa",
    scope="read:organization_user_mfa",
    operation_id="GetOrgUserMFA",
    errors=(404,),
)
def get_org_user_mfa(call: Call) -> dict[str, Any]:
    factor = service.user_mfa(call.ctx.storage, call.path["org_code"], call.path["user_id"])
    return success(
        "Success",
        mfa=compact(
            {
                "id": factor.id,
                "type": factor.type,
                "created_on": factor.created_on,
                "name": factor.name,
            }
        ),
    )


@router.operation(
    "DELETE",
    USER + "/mfa",
    scope="delete:organization_user_mfa",
    operation_id="ResetOrgUserMFAAll",
    errors=(404,),
)
def reset_org_user_mfa_all(call: Call) -> dict[str, Any]:
    service.reset_user_mfa(call.ctx.storage, call.path["org_code"], call.path["user_id"])
    return success("User's MFA successfully reset")


@router.operation(
    "DELETE",
    USER + "/mfa/{factor_id}",
    scope="delete:organization_user_mfa",
    operation_id="ResetOrgUserMFA",
    errors=(404,),
)
def reset_org_user_mfa(call: Call) -> dict[str, Any]:
    service.reset_user_mfa(
        call.ctx.storage, call.path["org_code"], call.path["user_id"], call.path["factor_id"]
    )
    return success("User's MFA successfully reset")


# --- users of a role --------------------------------------------------------------------


@router.operation(
    "GET",
    ROLE + "/users",
    scope="read:organization_user_roles",
    operation_id="GetOrganizationRoleUsers",
    query=(PAGE_SIZE, NEXT_TOKEN),
)
def get_organization_role_users(call: Call) -> dict[str, Any]:
    storage, org_code, role_id = call.ctx.storage, call.path["org_code"], call.path["role_id"]
    users, token = keyset_page(
        call.ctx.cursors,
        "\x1f".join(["org_role_users", org_code, role_id]),
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        by_sequence=lambda after, size: service.role_members(
            storage, org_code, role_id, after, size
        ),
    )
    return paged("users", [{"id": u} for u in users], token)


@router.operation(
    "GET",
    ROLE + "/users/count",
    scope="read:organization_user_roles",
    operation_id="GetOrganizationRoleUsersCount",
)
def get_organization_role_users_count(call: Call) -> dict[str, Any]:
    count = service.count_role_members(
        call.ctx.storage, call.path["org_code"], call.path["role_id"]
    )
    return success("Success", count=count)


@router.operation(
    "GET",
    ROLE + "/active_users/count",
    scope="read:organization_user_roles",
    operation_id="GetOrganizationRoleActiveUsersCount",
    query=(DATE_TIME_FROM, DATE_TIME_TO),
)
def get_organization_role_active_users_count(call: Call) -> dict[str, Any]:
    window = service.parse_active_window(call.param(DATE_TIME_FROM), call.param(DATE_TIME_TO))
    count = service.count_active_role_members(
        call.ctx.storage, call.path["org_code"], call.path["role_id"], window
    )
    return success(
        "Success",
        active_users_count=count,
        date_time_from=window.since.isoformat().replace("+00:00", "Z"),
        date_time_to=window.until.isoformat().replace("+00:00", "Z"),
    )


@roles_router.operation(
    "GET",
    "/roles/{role_id}/users",
    scope="read:organization_user_roles",
    operation_id="GetRoleUsers",
    query=(PAGE_SIZE, NEXT_TOKEN),
)
def get_role_users(call: Call) -> dict[str, Any]:
    storage, role_id = call.ctx.storage, call.path["role_id"]
    users, token = keyset_page(
        call.ctx.cursors,
        "\x1f".join(["role_users", role_id]),
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        by_sequence=lambda after, size: service.role_users(storage, role_id, after, size),
    )
    return paged("users", [{"id": uid, "org_codes": codes} for uid, codes in users], token)


router.operations.extend(roles_router.operations)
