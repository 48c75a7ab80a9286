"""Permissions."""

from collections.abc import Callable
from typing import Any, TypeVar

from kindling.platform.operations import Call, Param, Router
from kindling.platform.pagination import parse_page_size
from kindling.platform.render import compact, paged, success
from kindling.resources.permissions import service
from kindling.resources.permissions.model import Permission

router = Router("Permissions")
LIST_QUERY = (Param("sort"), Param("page_size", "integer"), Param("next_token"))
T = TypeVar("T")


def permission_item(permission: Permission) -> dict[str, Any]:
    return compact(
        {
            "id": permission.id,
            "key": permission.key,
            "name": permission.name,
            "description": permission.description,
        }
    )


def keyset_listing(
    call: Call,
    listing: str,
    sorts: dict[str, tuple[str, bool]],
    unsorted: Callable[[int | None, int], tuple[list[T], int | None]],
    by_column: Callable[
        [str, tuple[str, int] | None, int, bool], tuple[list[T], tuple[str, int] | None]
    ],
) -> tuple[list[T], str | None]:
    """Run a ``sort`` / ``page_size`` / ``next_token`` listing; return items and next token.

    ``listing`` names the query (e.g. ``roles`` or ``role_permissions|<role id>``); the sort
    is appended, so a token only pages the listing and order it came from.
    """
    order = service.parse_sort(call.query.get("sort"), sorts)
    size = parse_page_size(call.query.get("page_size"))
    cursors, token_in = call.ctx.cursors, call.query.get("next_token")
    if order is None:
        items, position = unsorted(cursors.decode(listing, token_in), size)
        return items, None if position is None else cursors.encode(listing, position)
    keyed = f"{listing}|{call.query['sort']}"
    items, key = by_column(order[0], cursors.decode_keyed(keyed, token_in), size, order[1])
    return items, None if key is None else cursors.encode(keyed, key)


@router.operation(
    "GET",
    "/permissions",
    scope="read:permissions",
    operation_id="GetPermissions",
    query=LIST_QUERY,
)
def get_permissions(call: Call) -> dict[str, Any]:
    storage = call.ctx.storage
    items, token = keyset_listing(
        call,
        "permissions",
        service.SORTS,
        lambda after, size: service.list_permissions(storage, after, size),
        lambda column, after, size, desc: service.list_permissions_sorted(
            storage, column, after, size, desc
        ),
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
