"""Permissions: create, list (sorted, keyset-paged), update, delete.

A permission's ``key`` is what tokens carry; keys are unique (case-sensitive, as
in Kinde) through a unique index, so concurrent creates of one key yield exactly
one permission. Deleting a permission takes it away from every role and
organization user (ON DELETE CASCADE) and unsets it as any role's assignment
permission, in the same transaction.
"""

from dataclasses import replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.codes import Code
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.ids import permission_id
from kindling.platform.pagination import page
from kindling.platform.storage import Storage
from kindling.platform.validation import SCOPE_KEY, optional_text, required_text
from kindling.resources.permissions.model import Permission
from kindling.resources.permissions.repository import PERMISSIONS_REPO
from kindling.resources.roles.repository import ROLES_REPO

NAME_MAX = 64
KEY_MAX = 128
DESCRIPTION_MAX = 1000
#: Kinde's ``sort`` values for permission listings: (column, descending).
SORTS = {
    "name_asc": ("name", False),
    "name_desc": ("name", True),
    "id_asc": ("id", False),
    "id_desc": ("id", True),
}


def as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError("the request body must be a JSON object", Code.INVALID_BODY)
    return value


def parse_sort(raw: str | None, sorts: dict[str, tuple[str, bool]]) -> tuple[str, bool] | None:
    """Validate Kinde's ``sort`` parameter (None: creation order)."""
    if raw is None or raw == "":
        return None
    if raw not in sorts:
        raise ValidationError("sort must be one of " + ", ".join(sorts), Code.INVALID_SORT)
    return sorts[raw]


def validate_key(value: Any) -> str:
    """A role or permission key: trimmed, at most 128 printable ASCII characters, no spaces,
    quotes or backslashes (it is copied into tokens)."""
    key = required_text(value, "key", KEY_MAX, "KEY")
    if not SCOPE_KEY.fullmatch(key):
        raise ValidationError(
            "key may contain only printable ASCII without spaces, quotes or backslashes",
            Code.INVALID_KEY,
        )
    return key


def validate_name(value: Any) -> str:
    return required_text(value, "name", NAME_MAX, "NAME")


def validate_description(value: Any) -> str | None:
    return optional_text(value, "description", DESCRIPTION_MAX, "DESCRIPTION")


def _key_taken() -> AlreadyExists:
    return AlreadyExists("A permission with this key already exists", Code.PERMISSION_KEY_EXISTS)


def _not_found() -> NotFound:
    return NotFound("Permission not found", Code.PERMISSION_NOT_FOUND)


def create_permission(storage: Storage, clock: Clock, body: Any) -> Permission:
    data = as_object(body)
    name = validate_name(data.get("name"))
    key = validate_key(data.get("key"))
    permission = Permission(
        id=permission_id(),
        key=key,
        name=name,
        description=validate_description(data.get("description")),
        created_on=isoformat(clock.now()),
    )
    try:
        with storage.transaction() as uow:
            if uow[PERMISSIONS_REPO].get_by_key(permission.key) is not None:
                raise _key_taken()
            uow[PERMISSIONS_REPO].add(permission)
    except IntegrityViolation:
        raise _key_taken() from None
    return permission


def update_permission(storage: Storage, permission_id_: str, body: Any) -> Permission:
    """Change name, key and/or description; absent (or null) name and key stay as they are,
    a null or blank description clears it."""
    data = as_object(body)
    changes: dict[str, Any] = {}
    if data.get("name") is not None:
        changes["name"] = validate_name(data["name"])
    if data.get("key") is not None:
        changes["key"] = validate_key(data["key"])
    if "description" in data:
        changes["description"] = validate_description(data["description"])
    if not changes:
        raise ValidationError(
            "give at least one of name, key, description", Code.NO_FIELDS_TO_UPDATE
        )
    try:
        with storage.transaction() as uow:
            current = uow[PERMISSIONS_REPO].get(permission_id_)
            if current is None:
                raise _not_found()
            updated = replace(current, **changes)
            if updated.key != current.key:
                other = uow[PERMISSIONS_REPO].get_by_key(updated.key)
                if other is not None and other.id != current.id:
                    raise _key_taken()
            uow[PERMISSIONS_REPO].update(updated)
    except IntegrityViolation:
        raise _key_taken() from None
    return updated


def delete_permission(storage: Storage, permission_id_: str) -> None:
    with storage.transaction() as uow:
        if uow[PERMISSIONS_REPO].get(permission_id_) is None:
            raise _not_found()
        uow[ROLES_REPO].clear_assignment_permission(permission_id_)
        uow[PERMISSIONS_REPO].delete(permission_id_)


def list_permissions(
    storage: Storage, after: int | None, size: int
) -> tuple[list[Permission], int | None]:
    """Permissions in creation order."""
    with storage.read() as uow:
        rows = uow[PERMISSIONS_REPO].list_page(after, size + 1)
    return page(rows, size)


def list_permissions_sorted(
    storage: Storage, column: str, after: tuple[str, int] | None, size: int, descending: bool
) -> tuple[list[Permission], tuple[str, int] | None]:
    with storage.read() as uow:
        rows = uow[PERMISSIONS_REPO].list_sorted(column, after, size + 1, descending)
    return page(rows, size)
