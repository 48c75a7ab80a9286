"""Conformance builders of the ``roles`` resource: roles, their permissions, API scopes
and system permissions, and the system permission catalogue."""

from __future__ import annotations

import re
from typing import Any

from tests.conformance.framework import Req, World, builder, has_item, uid

UUID_LIKE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def system_permission(w: World) -> str:
    """The id of one system permission (a fixed catalogue: looked up once per server)."""

    def find() -> str:
        body = w.ok(
            "GetSystemPermissions",
            Req("/system_permissions", params={"page_size": 100}),
            "find a system permission",
        )
        items = body.get("system_permissions") or []
        assert items, "GetSystemPermissions lists no system permissions"
        return str(items[0]["id"])

    return w.once(("roles", "system permission"), find)


@builder("GetRoles")
def _get_roles(w: World) -> Req:
    w.role()
    return Req("/roles", params={"page_size": 5, "sort": "name_asc"})


@builder("CreateRole")
def _create_role(w: World) -> Req:
    key = f"conf_role_{uid()}"

    def check(body: Any) -> None:
        assert UUID_LIKE.match(body["role"]["id"]), body

    return Req(
        "/roles",
        json={"key": key, "name": f"Role {key}", "description": "d", "is_default_role": False},
        check=check,
    )


@builder("GetRole")
def _get_role(w: World) -> Req:
    role_id, key = w.role()

    def check(body: Any) -> None:
        assert (body["role"]["id"], body["role"]["key"]) == (role_id, key), body

    return Req(f"/roles/{role_id}", check=check)


@builder("UpdateRoles")
def _update_roles(w: World) -> Req:
    role_id, key = w.role()
    return Req(f"/roles/{role_id}", json={"key": key, "name": f"Renamed {key}", "description": "r"})


@builder("DeleteRole")
def _delete_role(w: World) -> Req:
    return Req(f"/roles/{w.role()[0]}")


def _give_role_permission(w: World, role_id: str) -> str:
    permission_id, _ = w.permission()
    w.ok(
        "UpdateRolePermissions",
        Req(f"/roles/{role_id}/permissions", json={"permissions": [{"id": permission_id}]}),
        "give a role a permission",
    )
    return permission_id


@builder("GetRolePermissions")
def _get_role_permissions(w: World) -> Req:
    role_id, _ = w.role()
    if w.has("UpdateRolePermissions"):
        permission_id = _give_role_permission(w, role_id)
        return Req(f"/roles/{role_id}/permissions", check=has_item("permissions", permission_id))
    return Req(f"/roles/{role_id}/permissions")


@builder("UpdateRolePermissions")
def _update_role_permissions(w: World) -> Req:
    role_id, _ = w.role()
    permission_id, _ = w.permission()

    def check(body: Any) -> None:
        assert body["permissions_added"] == [permission_id], body

    return Req(
        f"/roles/{role_id}/permissions",
        json={"permissions": [{"id": permission_id}]},
        check=check,
    )


@builder("RemoveRolePermission")
def _remove_role_permission(w: World) -> Req:
    role_id, _ = w.role()
    return Req(f"/roles/{role_id}/permissions/{_give_role_permission(w, role_id)}")


def _role_scope(w: World) -> tuple[str, str]:
    role_id, _ = w.role()
    return role_id, w.api_scope(w.api())


@builder("GetRoleScopes")
def _get_role_scopes(w: World) -> Req:
    role_id, scope_id = _role_scope(w)
    if w.has("AddRoleScope"):
        w.ok("AddRoleScope", Req(f"/roles/{role_id}/scopes", json={"scope_id": scope_id}))
        return Req(f"/roles/{role_id}/scopes", check=has_item("scopes", scope_id))
    return Req(f"/roles/{role_id}/scopes")


@builder("AddRoleScope")
def _add_role_scope(w: World) -> Req:
    role_id, scope_id = _role_scope(w)
    return Req(f"/roles/{role_id}/scopes", json={"scope_id": scope_id})


@builder("DeleteRoleScope")
def _delete_role_scope(w: World) -> Req:
    role_id, scope_id = _role_scope(w)
    w.ok("AddRoleScope", Req(f"/roles/{role_id}/scopes", json={"scope_id": scope_id}))
    return Req(f"/roles/{role_id}/scopes/{scope_id}")


@builder("GetSystemPermissions")
def _get_system_permissions(w: World) -> Req:
    return Req("/system_permissions", params={"page_size": 5})


@builder("GetRoleSystemPermissions")
def _get_role_system_permissions(w: World) -> Req:
    return Req(f"/roles/{w.role()[0]}/system_permissions")


@builder("UpdateRoleSystemPermissions")
def _update_role_system_permissions(w: World) -> Req:
    role_id, _ = w.role()
    return Req(
        f"/roles/{role_id}/system_permissions",
        json={"system_permissions": [{"id": system_permission(w)}]},
    )
