"""Permissions."""

from typing import Any

from kindling.platform.operations import Call, Router
from kindling.platform.pagination import Keyed, keyset_page
from kindling.platform.params import NEXT_TOKEN, PAGE_SIZE, Query
from kindling.platform.render import paged, success
from kindling.resources.permissions import service
from kindling.resources.permissions.model import Permission, permission_item

router = Router("Permissions")
#: ``sort`` of the permission listings (``/permissions``, a role's, the system ones).
SORT = Query.enum("sort", service.SORTS)
LIST_QUERY = (SORT, PAGE_SIZE, NEXT_TOKEN)


@router.operation(
    "GET",
    "/permissions",
    scope="read:permissions",
    operation_id="GetPermissions",
    query=LIST_QUERY,
)
def get_permissions(call: Call) -> dict[str, Any]:
    storage = call.ctx.storage

    def by_sort(sort: str, after: Keyed | None, size: int) -> tuple[list[Permission], Keyed | None]:
        column, descending = service.SORTS[sort]
        return service.list_permissions_sorted(storage, column, after, size, descending)

    items, token = keyset_page(
        call.ctx.cursors,
        "permissions",
        call.param(PAGE_SIZE),
        call.param(NEXT_TOKEN),
        sort=call.param(SORT),
        by_sequence=lambda after, size: service.list_permissions(storage, after, size),
        by_sort=by_sort,
    )
    return paged("permissions", [permission_item(p) for p in items], token)


@router.operation(
    "POST",
    "/permissions",
    scope="create:permissions",
    status=201,
    operation_id="CreatePermission",
    body=True,
)
def create_permission(call: Call) -> dict[str, Any]:
    permission = service.create_permission(
        call.ctx.storage, call.ctx.clock, call.json(required=False)
    )
    # ``permission`` is beyond Kinde's success_response; clients ignore it, callers need the id.
    return success(
        "Permission successfully created", "PERMISSION_CREATED", permission={"id": permission.id}
    )


@router.operation(
    "PATCH",
    "/permissions/{permission_id}",
    scope="update:permissions",
    operation_id="UpdatePermissions",
    body=True,
)
def update_permissions(call: Call) -> dict[str, Any]:
    service.update_permission(
        call.ctx.storage, call.path["permission_id"], call.json(required=False)
    )
    return success("Permission successfully updated", "PERMISSION_UPDATED")


@router.operation(
    "DELETE",
    "/permissions/{permission_id}",
    scope="delete:permissions",
    operation_id="DeletePermission",
)
def delete_permission(call: Call) -> dict[str, Any]:
    service.delete_permission(call.ctx.storage, call.path["permission_id"])
    return success("Permission successfully deleted", "PERMISSION_DELETED")
