"""Roles with their permissions, API scopes and system permissions."""

from __future__ import annotations

from kindling.platform.engine import Row, Session
from kindling.platform.keyset import keyset
from kindling.resources.apis.model import ApiScope
from kindling.resources.permissions.model import Permission, permission_from_row
from kindling.resources.roles.model import Role

_COLUMNS = "seq, id, key, name, description, is_default_role, assignment_permission_id, created_on"
_PERMISSION_COLUMNS = "p.seq, p.id, p.key, p.name, p.description, p.created_on"
#: Columns a role listing may be sorted by (public name → SQL column).
SORT_COLUMNS = {"name": "name", "key": "key"}
#: Columns a role's permission listing may be sorted by.
PERMISSION_SORT_COLUMNS = {"name": "name", "id": "id"}


def role_from_row(row: Row) -> Role:
    return Role(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        description=row["description"],
        is_default_role=bool(row["is_default_role"]),
        assignment_permission_id=row["assignment_permission_id"],
        created_on=row["created_on"],
    )


def _scope(row: Row) -> ApiScope:
    return ApiScope(
        id=row["id"], api_id=row["api_id"], key=row["key"], description=row["description"]
    )


class SqlRoleRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- the role row ---------------------------------------------------------

    def get(self, role_id: str) -> Role | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM roles WHERE id = ?", (role_id,))
        return None if row is None else role_from_row(row)

    def get_by_key(self, key: str) -> Role | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM roles WHERE key = ?", (key,))
        return None if row is None else role_from_row(row)

    def add(self, role: Role) -> None:
        self._s.execute(
            "INSERT INTO roles (id, key, name, description, is_default_role, "
            "assignment_permission_id, created_on) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                role.id,
                role.key,
                role.name,
                role.description,
                role.is_default_role,
                role.assignment_permission_id,
                role.created_on,
            ),
        )

    def update(self, role: Role) -> None:
        self._s.execute(
            "UPDATE roles SET key = ?, name = ?, description = ?, is_default_role = ?, "
            "assignment_permission_id = ? WHERE id = ?",
            (
                role.key,
                role.name,
                role.description,
                role.is_default_role,
                role.assignment_permission_id,
                role.id,
            ),
        )

    def delete(self, role_id: str) -> bool:
        return self._s.execute("DELETE FROM roles WHERE id = ?", (role_id,)) > 0

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Role]]:
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM roles WHERE seq > ? ORDER BY seq LIMIT ?",
            (after or 0, limit),
        )
        return [(int(row["seq"]), role_from_row(row)) for row in rows]

    def list_sorted(
        self, column: str, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Role]]:
        condition, order_by, params = keyset(SORT_COLUMNS, column, after, descending)
        where = f"WHERE {condition}" if condition else ""
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM roles {where} {order_by} LIMIT ?", (*params, limit)
        )
        return [((row[SORT_COLUMNS[column]], int(row["seq"])), role_from_row(row)) for row in rows]

    def clear_assignment_permission(self, permission_id: str) -> None:
        self._s.execute(
            "UPDATE roles SET assignment_permission_id = NULL WHERE assignment_permission_id = ?",
            (permission_id,),
        )

    # --- permissions ----------------------------------------------------------

    def permission_ids(self, role_id: str) -> set[str]:
        rows = self._s.all(
            "SELECT permission_id FROM role_permissions WHERE role_id = ?", (role_id,)
        )
        return {row["permission_id"] for row in rows}

    def permissions_page(
        self, role_id: str, after: int | None, limit: int
    ) -> list[tuple[int, Permission]]:
        rows = self._s.all(
            f"SELECT {_PERMISSION_COLUMNS} FROM role_permissions rp "
            "JOIN permissions p ON p.id = rp.permission_id "
            "WHERE rp.role_id = ? AND p.seq > ? ORDER BY p.seq LIMIT ?",
            (role_id, after or 0, limit),
        )
        return [(int(row["seq"]), permission_from_row(row)) for row in rows]

    def permissions_sorted(
        self,
        role_id: str,
        column: str,
        after: tuple[str, int] | None,
        limit: int,
        descending: bool,
    ) -> list[tuple[tuple[str, int], Permission]]:
        condition, order_by, params = keyset(
            PERMISSION_SORT_COLUMNS, column, after, descending, alias="p."
        )
        extra = f"AND {condition}" if condition else ""
        rows = self._s.all(
            f"SELECT {_PERMISSION_COLUMNS} FROM role_permissions rp "
            "JOIN permissions p ON p.id = rp.permission_id "
            f"WHERE rp.role_id = ? {extra} {order_by} LIMIT ?",
            (role_id, *params, limit),
        )
        return [
            ((row[PERMISSION_SORT_COLUMNS[column]], int(row["seq"])), permission_from_row(row))
            for row in rows
        ]

    def add_permission(self, role_id: str, permission_id: str) -> bool:
        changed = self._s.execute(
            "INSERT INTO role_permissions (role_id, permission_id) VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            (role_id, permission_id),
        )
        return changed > 0

    def remove_permission(self, role_id: str, permission_id: str) -> bool:
        changed = self._s.execute(
            "DELETE FROM role_permissions WHERE role_id = ? AND permission_id = ?",
            (role_id, permission_id),
        )
        return changed > 0

    # --- API scopes -----------------------------------------------------------

    def api_scope(self, scope_id: str) -> ApiScope | None:
        row = self._s.one(
            "SELECT id, api_id, key, description FROM api_scopes WHERE id = ?", (scope_id,)
        )
        return None if row is None else _scope(row)

    def scopes(self, role_id: str) -> list[ApiScope]:
        rows = self._s.all(
            "SELECT s.id, s.api_id, s.key, s.description FROM role_scopes rs "
            "JOIN api_scopes s ON s.id = rs.scope_id WHERE rs.role_id = ? ORDER BY s.seq",
            (role_id,),
        )
        return [_scope(row) for row in rows]

    def add_scope(self, role_id: str, scope_id: str) -> bool:
        changed = self._s.execute(
            "INSERT INTO role_scopes (role_id, scope_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (role_id, scope_id),
        )
        return changed > 0

    def remove_scope(self, role_id: str, scope_id: str) -> bool:
        changed = self._s.execute(
            "DELETE FROM role_scopes WHERE role_id = ? AND scope_id = ?", (role_id, scope_id)
        )
        return changed > 0

    # --- system permissions ---------------------------------------------------

    def system_permission_keys(self, role_id: str) -> set[str]:
        rows = self._s.all(
            "SELECT system_permission_key FROM role_system_permissions WHERE role_id = ?",
            (role_id,),
        )
        return {row["system_permission_key"] for row in rows}

    def add_system_permission(self, role_id: str, key: str) -> bool:
        changed = self._s.execute(
            "INSERT INTO role_system_permissions (role_id, system_permission_key) "
            "VALUES (?, ?) ON CONFLICT DO NOTHING",
            (role_id, key),
        )
        return changed > 0

    def remove_system_permission(self, role_id: str, key: str) -> bool:
        changed = self._s.execute(
            "DELETE FROM role_system_permissions WHERE role_id = ? AND system_permission_key = ?",
            (role_id, key),
        )
        return changed > 0
