"""Permissions."""

from __future__ import annotations

from collections.abc import Sequence

from kindling.platform.engine import Session
from kindling.platform.keyset import keyset
from kindling.resources.permissions.model import Permission, permission_from_row

_COLUMNS = "seq, id, key, name, description, created_on"
#: Columns a permission listing may be sorted by (public name → SQL column).
SORT_COLUMNS = {"name": "name", "id": "id"}


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


class SqlPermissionRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, permission_id: str) -> Permission | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM permissions WHERE id = ?", (permission_id,))
        return None if row is None else permission_from_row(row)

    def get_by_key(self, key: str) -> Permission | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM permissions WHERE key = ?", (key,))
        return None if row is None else permission_from_row(row)

    def existing(self, permission_ids: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(permission_ids))
        if not wanted:
            return set()
        rows = self._s.all(
            f"SELECT id FROM permissions WHERE id IN ({_placeholders(wanted)})", tuple(wanted)
        )
        return {row["id"] for row in rows}

    def add(self, permission: Permission) -> None:
        self._s.execute(
            "INSERT INTO permissions (id, key, name, description, created_on) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                permission.id,
                permission.key,
                permission.name,
                permission.description,
                permission.created_on,
            ),
        )

    def update(self, permission: Permission) -> None:
        self._s.execute(
            "UPDATE permissions SET key = ?, name = ?, description = ? WHERE id = ?",
            (permission.key, permission.name, permission.description, permission.id),
        )

    def delete(self, permission_id: str) -> bool:
        return self._s.execute("DELETE FROM permissions WHERE id = ?", (permission_id,)) > 0

    def list_page(self, after: int | None, limit: int) -> list[tuple[int, Permission]]:
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM permissions WHERE seq > ? ORDER BY seq LIMIT ?",
            (after or 0, limit),
        )
        return [(int(row["seq"]), permission_from_row(row)) for row in rows]

    def list_sorted(
        self, column: str, after: tuple[str, int] | None, limit: int, descending: bool
    ) -> list[tuple[tuple[str, int], Permission]]:
        condition, order_by, params = keyset(SORT_COLUMNS, column, after, descending)
        where = f"WHERE {condition}" if condition else ""
        rows = self._s.all(
            f"SELECT {_COLUMNS} FROM permissions {where} {order_by} LIMIT ?",
            (*params, limit),
        )
        return [
            ((row[SORT_COLUMNS[column]], int(row["seq"])), permission_from_row(row)) for row in rows
        ]
