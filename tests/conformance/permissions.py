"""Conformance builders of the ``permissions`` resource."""

from __future__ import annotations

from tests.conformance.framework import Req, World, builder, uid


@builder("GetPermissions")
def _get_permissions(w: World) -> Req:
    if w.has("CreatePermission"):
        w.permission()
    return Req("/permissions", params={"page_size": 5, "sort": "name_asc"})


@builder("CreatePermission")
def _create_permission(w: World) -> Req:
    key = f"conf_perm_{uid()}"
    return Req("/permissions", json={"key": key, "name": f"Perm {key}", "description": "d"})


@builder("UpdatePermissions")
def _update_permissions(w: World) -> Req:
    permission_id, key = w.permission()
    return Req(f"/permissions/{permission_id}", json={"name": f"Renamed {key}", "description": "r"})


@builder("DeletePermission")
def _delete_permission(w: World) -> Req:
    return Req(f"/permissions/{w.permission()[0]}")
