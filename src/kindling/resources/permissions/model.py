"""Permissions: the domain objects.

Plain frozen dataclasses: no I/O, no framework types.

Timestamps are ISO 8601 strings in UTC, as the Management API shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kindling.platform.render import compact


@dataclass(frozen=True)
class Permission:
    """A permission defined for the business; its ``key`` is what tokens carry."""

    id: str
    key: str
    name: str
    created_on: str
    description: str | None = None


def permission_from_row(row: Mapping[str, Any]) -> Permission:
    """A permission from a database row (its columns by name)."""
    return Permission(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        description=row["description"],
        created_on=row["created_on"],
    )


def permission_item(permission: Permission) -> dict[str, Any]:
    """Kinde's JSON of a permission in a listing (``/permissions``, a role's permissions)."""

    return compact(
        {
            "id": permission.id,
            "key": permission.key,
            "name": permission.name,
            "description": permission.description,
        }
    )
