"""Organization users, their roles, permissions, API scopes and MFA; role users."""

from typing import Any

from kindling.platform.codes import Code
from kindling.platform.errors import ValidationError
from kindling.platform.operations import Call, Param, Router
from kindling.platform.pagination import parse_page_size
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
    query=(
        Param("sort"),
        Param("page_size", "integer"),
        Param("next_token"),
        Param("permissions"),
        Param("roles"),
    ),
)
def get_organization_users(call: Call) -> dict[str, Any]:
    q = call.query
    org_code = call.path["org_code"]
    sort, descending = service.parse_sort(q.get("sort"))
    size = parse_page_size(q.get("page_size"))
    roles = service.parse_filter(q.get("roles"), "roles")
    permissions = service.parse_filter(q.get("permissions"), "permissions")
    # The cursor is bound to the organization, the sort and the filters it was issued for.
    listing = "\x1f".join(
        ["org_users", org_code, q.get("sort") or "", ",".join(roles), ",".join(permissions)]
    )
    after = call.ctx.cursors.decode_keyed(listing, q.get("next_token"))
    members, cursor = service.list_members(
        call.ctx.storage, org_code, after, size, sort, descending, roles, permissions
    )
    token = None if cursor is None else call.ctx.cursors.encode(listing, cursor)
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
    query=(Param("expand"),),
)
def get_organization_user_permissions(call: Call) -> dict[str, Any]:
    expand = {p.strip() for p in (call.query.get("expand") or "").split(",") if p.strip()}
    if expand - {"roles"}:
        raise ValidationError("expand accepts only roles", Code.INVALID_EXPAND)
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
)
def add_organization_user_api_scope(call: Call) -> None:
    _api_scope(call, granted=True)


@router.operation(
    "DELETE",
    API_SCOPE,
    scope="delete:organization_user_api_scopes",
    operation_id="deleteOrganizationUserAPIScope",
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
    query=(Param("page_size", "integer"), Param("next_token")),
)
def get_organization_role_users(call: Call) -> dict[str, Any]:
    org_code, role_id = call.path["org_code"], call.path["role_id"]
    size = parse_page_size(call.query.get("page_size"))
    listing = "\x1f".join(["org_role_users", org_code, role_id])
    after = call.ctx.cursors.decode(listing, call.query.get("next_token"))
    users, cursor = service.role_members(call.ctx.storage, org_code, role_id, after, size)
    token = None if cursor is None else call.ctx.cursors.encode(listing, cursor)
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
    query=(
        Param("date_time_from", required=True),
        Param("date_time_to", required=True),
    ),
)
def get_organization_role_active_users_count(call: Call) -> dict[str, Any]:
    window = service.parse_active_window(
        call.query.get("date_time_from"), call.query.get("date_time_to")
    )
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
    query=(Param("page_size", "integer"), Param("next_token")),
)
def get_role_users(call: Call) -> dict[str, Any]:
    role_id = call.path["role_id"]
    size = parse_page_size(call.query.get("page_size"))
    listing = "\x1f".join(["role_users", role_id])
    after = call.ctx.cursors.decode(listing, call.query.get("next_token"))
    users, cursor = service.role_users(call.ctx.storage, role_id, after, size)
    token = None if cursor is None else call.ctx.cursors.encode(listing, cursor)
    return paged("users", [{"id": uid, "org_codes": codes} for uid, codes in users], token)


router.operations.extend(roles_router.operations)
