"""Property definitions and categories, and property values of users, organizations, apps."""

from __future__ import annotations

from collections.abc import Sequence

from kindling.platform.engine import Row, Session
from kindling.resources.properties.model import Property, PropertyCategory, PropertyValue

_PROPERTY_COLUMNS = (
    "p.id, p.key, p.name, p.description, p.type, p.context, p.is_private, "
    "p.is_kinde_property, p.category_id, p.created_on"
)
_CATEGORY_COLUMNS = "id, name, context, created_on"

#: Per context: (values table, subject column, subject table, subject key column).
_SUBJECTS = {
    "usr": ("user_property_values", "user_id", "users", "id"),
    "org": ("organization_property_values", "org_code", "organizations", "code"),
    "app": ("application_property_values", "application_id", "applications", "id"),
}


def _property(row: Row) -> Property:
    return Property(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        description=row["description"],
        type=row["type"],
        context=row["context"],
        is_private=bool(row["is_private"]),
        is_kinde_property=bool(row["is_kinde_property"]),
        category_id=row["category_id"],
        created_on=row["created_on"],
    )


def _category(row: Row) -> PropertyCategory:
    return PropertyCategory(
        id=row["id"], name=row["name"], context=row["context"], created_on=row["created_on"]
    )


def _keyset(
    context: str | None, after: int | None, before: int | None, limit: int, alias: str = ""
) -> tuple[str, list[object]]:
    """WHERE and ORDER BY for a keyset page; ``before`` pages are read newest first."""
    where: list[str] = []
    params: list[object] = []
    if context is not None:
        where.append(f"{alias}context = ?")
        params.append(context)
    if after is not None:
        where.append(f"{alias}seq > ?")
        params.append(after)
    if before is not None:
        where.append(f"{alias}seq < ?")
        params.append(before)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    order = "DESC" if before is not None and after is None else "ASC"
    params.append(limit)
    return f"{clause} ORDER BY {alias}seq {order} LIMIT ?", params


class SqlPropertyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- categories ---

    def get_category(self, category_id: str) -> PropertyCategory | None:
        row = self._s.one(
            f"SELECT {_CATEGORY_COLUMNS} FROM property_categories WHERE id = ?", (category_id,)
        )
        return None if row is None else _category(row)

    def category_position(self, category_id: str) -> int | None:
        row = self._s.one("SELECT seq FROM property_categories WHERE id = ?", (category_id,))
        return None if row is None else int(row["seq"])

    def add_category(self, category: PropertyCategory) -> None:
        self._s.execute(
            "INSERT INTO property_categories (id, name, context, created_on) VALUES (?, ?, ?, ?)",
            (category.id, category.name, category.context, category.created_on),
        )

    def rename_category(self, category_id: str, name: str) -> bool:
        return (
            self._s.execute(
                "UPDATE property_categories SET name = ? WHERE id = ?", (name, category_id)
            )
            > 0
        )

    def list_categories(
        self, context: str | None, after: int | None, before: int | None, limit: int
    ) -> list[PropertyCategory]:
        tail, params = _keyset(context, after, before, limit)
        rows = self._s.all(f"SELECT {_CATEGORY_COLUMNS} FROM property_categories{tail}", params)
        found = [_category(row) for row in rows]
        return found[::-1] if before is not None and after is None else found

    # --- properties ---

    def get(self, property_id: str) -> Property | None:
        row = self._s.one(
            f"SELECT {_PROPERTY_COLUMNS} FROM properties p WHERE p.id = ?", (property_id,)
        )
        return None if row is None else _property(row)

    def get_by_key(self, key: str) -> Property | None:
        row = self._s.one(f"SELECT {_PROPERTY_COLUMNS} FROM properties p WHERE p.key = ?", (key,))
        return None if row is None else _property(row)

    def by_keys(self, keys: Sequence[str]) -> dict[str, Property]:
        if not keys:
            return {}
        marks = ", ".join("?" for _ in keys)
        rows = self._s.all(
            f"SELECT {_PROPERTY_COLUMNS} FROM properties p WHERE p.key IN ({marks})", list(keys)
        )
        return {row["key"]: _property(row) for row in rows}

    def position(self, property_id: str) -> int | None:
        row = self._s.one("SELECT seq FROM properties WHERE id = ?", (property_id,))
        return None if row is None else int(row["seq"])

    def add(self, prop: Property) -> None:
        self._s.execute(
            "INSERT INTO properties (id, key, name, description, type, context, is_private, "
            "is_kinde_property, category_id, created_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                prop.id,
                prop.key,
                prop.name,
                prop.description,
                prop.type,
                prop.context,
                prop.is_private,
                prop.is_kinde_property,
                prop.category_id,
                prop.created_on,
            ),
        )

    def update(self, prop: Property) -> bool:
        changed = self._s.execute(
            "UPDATE properties SET name = ?, description = ?, is_private = ?, category_id = ? "
            "WHERE id = ?",
            (prop.name, prop.description, prop.is_private, prop.category_id, prop.id),
        )
        return changed > 0

    def delete(self, property_id: str) -> bool:
        return self._s.execute("DELETE FROM properties WHERE id = ?", (property_id,)) > 0

    def list_page(
        self, context: str | None, after: int | None, before: int | None, limit: int
    ) -> list[Property]:
        tail, params = _keyset(context, after, before, limit, "p.")
        rows = self._s.all(f"SELECT {_PROPERTY_COLUMNS} FROM properties p{tail}", params)
        found = [_property(row) for row in rows]
        return found[::-1] if before is not None and after is None else found

    # --- values ---

    def subject_exists(self, context: str, subject_id: str) -> bool:
        _, _, table, column = _SUBJECTS[context]
        return self._s.one(f"SELECT 1 FROM {table} WHERE {column} = ?", (subject_id,)) is not None

    def values(self, context: str, subject_id: str) -> list[PropertyValue]:
        table, column, _, _ = _SUBJECTS[context]
        rows = self._s.all(
            f"SELECT {_PROPERTY_COLUMNS}, v.value FROM properties p "
            f"LEFT JOIN {table} v ON v.property_id = p.id AND v.{column} = ? "
            "WHERE p.context = ? ORDER BY p.seq",
            (subject_id, context),
        )
        return [PropertyValue(_property(row), row["value"]) for row in rows]

    def set_values(
        self, context: str, subject_id: str, values: Sequence[tuple[str, str | None]]
    ) -> None:
        table, column, _, _ = _SUBJECTS[context]
        removed = [(subject_id, pid) for pid, value in values if value is None]
        kept = [(subject_id, pid, value) for pid, value in values if value is not None]
        if removed:
            self._s.executemany(
                f"DELETE FROM {table} WHERE {column} = ? AND property_id = ?", removed
            )
        if kept:
            self._s.executemany(
                f"INSERT INTO {table} ({column}, property_id, value) VALUES (?, ?, ?) "
                f"ON CONFLICT ({column}, property_id) DO UPDATE SET value = excluded.value",
                kept,
            )
