"""Permissions: create, list (sorted, keyset-paged), update, delete.

A permission's ``key`` is what tokens carry; keys are unique (case-sensitive, as
in Kinde) through a unique index, so concurrent creates of one key yield exactly
one permission. Deleting a permission takes it away from every role and
organization user (ON DELETE CASCADE) and unsets it as any role's assignment
permission, in the same transaction.

Each change records Kinde's ``permission.created``, ``permission.updated`` or
``permission.deleted`` event in its transaction; an update that changes nothing
records none.
"""

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import UNSET, Body, decode_body, given, or_none
from kindling.platform.codes import Code
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import permission_id
from kindling.platform.pagination import page
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import SCOPE_KEY, optional_text, required_text
from kindling.resources.permissions.model import Permission
from kindling.resources.permissions.repository import PERMISSIONS_REPO

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


class PermissionBody(Body, frozen=True):
    """``POST /permissions`` and ``PATCH /permissions/{id}``: a null or absent name or key
    means "not given"; ``description`` may be sent as null to clear it."""

    name: object = None
    key: object = None
    description: object = UNSET


#: The fields of a permission its events carry and an update may change.
_FIELDS = ("key", "name", "description")


def permission_data(permission: Permission) -> dict[str, Any]:
    """A permission as Kinde's permission webhooks show it (``data.permission``)."""
    return {
        "id": permission.id,
        "key": permission.key,
        "name": permission.name,
        "description": permission.description,
    }


def _key_taken() -> AlreadyExists:
    return AlreadyExists("A permission with this key already exists", Code.PERMISSION_KEY_EXISTS)


def _not_found() -> NotFound:
    return NotFound("Permission not found", Code.PERMISSION_NOT_FOUND)


def create_permission(storage: Storage, clock: Clock, body: Any) -> Permission:
    data = decode_body(body, PermissionBody)
    name = validate_name(data.name)
    key = validate_key(data.key)
    permission = Permission(
        id=permission_id(),
        key=key,
        name=name,
        description=validate_description(or_none(data.description)),
        created_on=isoformat(clock.now()),
    )
    try:
        with storage.transaction() as uow:
            if uow[PERMISSIONS_REPO].get_by_key(permission.key) is not None:
                raise _key_taken()
            uow[PERMISSIONS_REPO].add(permission)
            uow.record(EventType.PERMISSION_CREATED, {"permission": permission_data(permission)})
    except IntegrityViolation:
        raise _key_taken() from None
    return permission


def update_permission(storage: Storage, permission_id_: str, body: Any) -> Permission:
    """Change name, key and/or description; absent (or null) name and key stay as they are,
    a null or blank description clears it."""
    data = decode_body(body, PermissionBody)
    changes: dict[str, Any] = {}
    if data.name is not None:
        changes["name"] = validate_name(data.name)
    if data.key is not None:
        changes["key"] = validate_key(data.key)
    if given(data.description):
        changes["description"] = validate_description(data.description)
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
            fields = [f for f in _FIELDS if getattr(updated, f) != getattr(current, f)]
            if fields:
                uow.record(
                    EventType.PERMISSION_UPDATED,
                    {"permission": permission_data(updated), "updated_fields": fields},
                )
    except IntegrityViolation:
        raise _key_taken() from None
    return updated


def delete_permission(storage: Storage, permission_id_: str) -> None:
    """Delete a permission; roles react to ``permission.deleted`` in the same transaction."""
    with storage.transaction() as uow:
        if uow[PERMISSIONS_REPO].get(permission_id_) is None:
            raise _not_found()
        uow[PERMISSIONS_REPO].delete(permission_id_)
        uow.record(EventType.PERMISSION_DELETED, {"permission": {"id": permission_id_}})


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


# --- for other resources ---------------------------------------------------------------
# Roles reach permissions through these functions, never through the permissions
# repository; each runs in the caller's unit of work.


def find_permission(uow: UnitOfWork, permission_id_: str) -> Permission | None:
    """The permission with this id, or None (the caller picks the error to raise)."""
    return uow[PERMISSIONS_REPO].get(permission_id_)


def existing_permissions(uow: UnitOfWork, permission_ids: Sequence[str]) -> set[str]:
    """Those of ``permission_ids`` that name a permission."""
    return uow[PERMISSIONS_REPO].existing(permission_ids)
