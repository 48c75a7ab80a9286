"""Roles, their permissions, API scopes and system permissions.

Role keys are unique (case-sensitive, as in Kinde) through a unique index. A role
may name an ``assignment_permission_id``: the permission a user needs to assign
the role to others; it must be an existing permission. Deleting a role removes
its permission, scope and system-permission links and every user's assignment of
it (ON DELETE CASCADE), in one transaction.

System permissions govern the self-serve portal. They are a fixed catalogue
(``SYSTEM_PERMISSIONS``), not rows: Kinde defines them, customers only attach
them to roles. A role stores the keys of the ones it holds.

Every change records its event in its transaction: Kinde's ``role.created``,
``role.updated`` (only when something changed) and ``role.deleted``, and Kindling's
``role.permission_added``/``_removed``, ``role.scope_added``/``_removed`` and
``role.system_permission_added``/``_removed``, one per link actually changed.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import UNSET, Body, decode_body, given, or_none
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.events import DomainEvent
from kindling.platform.ids import role_id
from kindling.platform.pagination import page
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import optional_bool
from kindling.resources.apis.model import ApiScope
from kindling.resources.permissions.model import Permission
from kindling.resources.permissions.service import (
    existing_permissions,
    find_permission,
    validate_description,
    validate_key,
    validate_name,
)
from kindling.resources.roles.model import Role
from kindling.resources.roles.repository import ROLES_REPO

MAX_BULK = 100
#: ``assignment_permission_id`` value that, in an update, removes the requirement.
NO_PERMISSION_REQUIRED = "NO_PERMISSION_REQUIRED"
#: Kinde's ``sort`` values for ``GET /roles``: (column, descending).
SORTS = {
    "name_asc": ("name", False),
    "name_desc": ("name", True),
    "key_asc": ("key", False),
    "key_desc": ("key", True),
}


@dataclass(frozen=True)
class SystemPermission:
    id: str
    key: str
    name: str
    description: str


#: Kinde's system permissions (self-serve portal functions), in display order. Keys and
#: wording follow the spec's example (``org:read:billing``) and Kinde's portal docs
#: (``org:write:billing``, ``org:write:members``, ``read:org:authentication`` and
#: ``write:org:authentication`` for organization API keys). Ids are fixed forever.
SYSTEM_PERMISSIONS: tuple[SystemPermission, ...] = (
    SystemPermission(
        "perm_0195ac7435980dbe20093f41d2283e29",
        "org:read:profile",
        "Read organization profile",
        "View the organization's business details",
    ),
    SystemPermission(
        "perm_01957d1474c15153dd5b28cf3847645e",
        "org:write:profile",
        "Update organization profile",
        "Update the organization's business details",
    ),
    SystemPermission(
        "perm_0195fae593d2b9c7e57a97bb8cd18b6e",
        "org:read:billing",
        "Read billing details",
        "View plan and update card details",
    ),
    SystemPermission(
        "perm_0195546a91a684362508a2ec12229e46",
        "org:write:billing",
        "Manage billing",
        "Change plan, update payment details and view billing history",
    ),
    SystemPermission(
        "perm_01954d76f3bf6a2fe743177ca8587802",
        "org:read:members",
        "Read members",
        "View the organization's members and their roles",
    ),
    SystemPermission(
        "perm_0195b99ed86b717e6d1436d611401109",
        "org:write:members",
        "Manage members",
        "Add, update and remove the organization's members and their roles",
    ),
    SystemPermission(
        "perm_0195d8a2334a6751096f98fbea7d20fe",
        "read:org:authentication",
        "Read API keys",
        "View API keys created by the organization",
    ),
    SystemPermission(
        "perm_0195230224d47b13fcb428de5e37b6ca",
        "write:org:authentication",
        "Manage API keys",
        "Create, rotate and revoke API keys for the organization",
    ),
)
_SYSTEM_BY_ID = {p.id: p for p in SYSTEM_PERMISSIONS}
_SYSTEM_BY_KEY = {p.key: p for p in SYSTEM_PERMISSIONS}
_SYSTEM_ORDER = {p.key: index for index, p in enumerate(SYSTEM_PERMISSIONS)}

CataloguePosition = int | tuple[str, int]
#: ``(order, after, page size) -> (page, position of its last item if more follow)``.
CatalogueLister = Callable[
    [tuple[str, bool] | None, CataloguePosition | None, int],
    tuple[list[SystemPermission], CataloguePosition | None],
]


@dataclass(frozen=True)
class Changes:
    """What a bulk update actually changed (ids in request order)."""

    added: list[str]
    removed: list[str]


class RoleBody(Body, frozen=True):
    """``POST /roles`` and ``PATCH /roles/{id}``; ``description`` may be null to clear it."""

    name: object = None
    key: object = None
    description: object = UNSET
    is_default_role: object = None
    assignment_permission_id: object = None


class RoleScopeBody(Body, frozen=True):
    """``POST /roles/{id}/scopes``."""

    scope_id: object = None


class BulkItem(Body, frozen=True):
    """One entry of a bulk permissions or system permissions update."""

    id: object = None
    operation: object = None


#: The fields of a role its events carry and an update may change (Kinde's
#: ``data.role`` plus the assignment permission).
_FIELDS = ("key", "name", "description", "is_default_role", "assignment_permission_id")


def role_data(role: Role) -> dict[str, Any]:
    """A role as Kinde's role webhooks show it (``data.role``)."""
    return {"id": role.id, **{field: getattr(role, field) for field in _FIELDS}}


def _link(role_id_: str, name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"role": {"id": role_id_}, name: item}


def _role_not_found() -> NotFound:
    return NotFound("Role not found", Code.ROLE_NOT_FOUND)


def _key_taken() -> AlreadyExists:
    return AlreadyExists("A role with this key already exists", Code.ROLE_KEY_EXISTS)


def _require_role(uow: UnitOfWork, role_id_: str) -> Role:
    role = uow[ROLES_REPO].get(role_id_)
    if role is None:
        raise _role_not_found()
    return role


# --- roles ------------------------------------------------------------------------


def _assignment_permission(value: Any, *, update: bool) -> tuple[bool, str | None]:
    """Parse ``assignment_permission_id``: (whether to set it, the id or None).

    On create, null means "no permission required"; on update, null means "no change"
    and ``NO_PERMISSION_REQUIRED`` removes the requirement.
    """
    if value is None:
        return (not update, None)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            "assignment_permission_id must be a permission id",
            Code.INVALID_ASSIGNMENT_PERMISSION_ID,
        )
    value = value.strip()
    if value == NO_PERMISSION_REQUIRED:
        return (True, None)
    return (True, value)


def _check_assignment_permission(uow: UnitOfWork, permission_id: str | None) -> None:
    if permission_id is not None and find_permission(uow, permission_id) is None:
        raise NotFound(
            "assignment_permission_id does not name an existing permission",
            Code.PERMISSION_NOT_FOUND,
        )


def create_role(storage: Storage, clock: Clock, body: Any) -> Role:
    data = decode_body(body, RoleBody)
    name = validate_name(data.name)
    key = validate_key(data.key)
    description = validate_description(or_none(data.description))
    is_default = optional_bool(data.is_default_role, "is_default_role") or False
    _, assignment = _assignment_permission(data.assignment_permission_id, update=False)
    role = Role(
        id=role_id(),
        key=key,
        name=name,
        description=description,
        is_default_role=is_default,
        assignment_permission_id=assignment,
        created_on=isoformat(clock.now()),
    )
    try:
        with storage.transaction() as uow:
            _check_assignment_permission(uow, assignment)
            if uow[ROLES_REPO].get_by_key(key) is not None:
                raise _key_taken()
            uow[ROLES_REPO].add(role)
            uow.record(EventType.ROLE_CREATED, {"role": role_data(role)})
    except IntegrityViolation:
        raise _key_taken() from None
    return role


def get_role(storage: Storage, role_id_: str) -> Role:
    with storage.read() as uow:
        return _require_role(uow, role_id_)


def update_role(storage: Storage, role_id_: str, body: Any) -> Role:
    """Kinde's ``PATCH /roles/{id}``: ``name`` and ``key`` are required; an absent description
    or default flag stays as it is (a null or blank description clears it)."""
    data = decode_body(body, RoleBody)
    changes: dict[str, Any] = {
        "name": validate_name(data.name),
        "key": validate_key(data.key),
    }
    if given(data.description):
        changes["description"] = validate_description(data.description)
    if data.is_default_role is not None:
        changes["is_default_role"] = optional_bool(data.is_default_role, "is_default_role")
    set_assignment, assignment = _assignment_permission(data.assignment_permission_id, update=True)
    if set_assignment:
        changes["assignment_permission_id"] = assignment
    try:
        with storage.transaction() as uow:
            current = _require_role(uow, role_id_)
            if set_assignment:
                _check_assignment_permission(uow, assignment)
            other = uow[ROLES_REPO].get_by_key(changes["key"])
            if other is not None and other.id != current.id:
                raise _key_taken()
            updated = replace(current, **changes)
            uow[ROLES_REPO].update(updated)
            fields = [f for f in _FIELDS if getattr(updated, f) != getattr(current, f)]
            if fields:
                uow.record(
                    EventType.ROLE_UPDATED, {"role": role_data(updated), "updated_fields": fields}
                )
    except IntegrityViolation:
        raise _key_taken() from None
    return updated


def delete_role(storage: Storage, role_id_: str) -> None:
    with storage.transaction() as uow:
        if not uow[ROLES_REPO].delete(role_id_):
            raise _role_not_found()
        uow.record(EventType.ROLE_DELETED, {"role": {"id": role_id_}})


def list_roles(storage: Storage, after: int | None, size: int) -> tuple[list[Role], int | None]:
    """Roles in creation order."""
    with storage.read() as uow:
        rows = uow[ROLES_REPO].list_page(after, size + 1)
    return page(rows, size)


def list_roles_sorted(
    storage: Storage, column: str, after: tuple[str, int] | None, size: int, descending: bool
) -> tuple[list[Role], tuple[str, int] | None]:
    with storage.read() as uow:
        rows = uow[ROLES_REPO].list_sorted(column, after, size + 1, descending)
    return page(rows, size)


# --- role permissions ---------------------------------------------------------------


def list_role_permissions(
    storage: Storage, role_id_: str, after: int | None, size: int
) -> tuple[list[Permission], int | None]:
    with storage.read() as uow:
        _require_role(uow, role_id_)
        rows = uow[ROLES_REPO].permissions_page(role_id_, after, size + 1)
    return page(rows, size)


def list_role_permissions_sorted(
    storage: Storage,
    role_id_: str,
    column: str,
    after: tuple[str, int] | None,
    size: int,
    descending: bool,
) -> tuple[list[Permission], tuple[str, int] | None]:
    with storage.read() as uow:
        _require_role(uow, role_id_)
        rows = uow[ROLES_REPO].permissions_sorted(role_id_, column, after, size + 1, descending)
    return page(rows, size)


def _bulk_items(value: Any, field: str, noun: str) -> list[tuple[str, bool]]:
    """Validate ``[{id, operation?}]`` (operation ``"delete"`` removes): (id, remove)."""
    code = field.upper()
    if value is None:
        raise ValidationError(f"{field} is required", derived(f"{code}_REQUIRED"))
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{field} must be a non-empty list", derived(f"INVALID_{code}"))
    if len(value) > MAX_BULK:
        raise ValidationError(
            f"at most {MAX_BULK} {field} per request", derived(f"TOO_MANY_{code}")
        )
    parsed: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for raw in value:
        if raw is None:
            raise ValidationError(f"each of {field} must be an object", derived(f"INVALID_{code}"))
        item = decode_body(
            raw, BulkItem, f"each of {field} must be an object", derived(f"INVALID_{code}")
        )
        item_id = item.id
        if not isinstance(item_id, str) or not item_id.strip():
            raise ValidationError(
                f"each {noun} needs an id", derived(f"{noun.upper()}_ID_REQUIRED")
            )
        operation = item.operation
        if operation not in (None, "delete"):
            raise ValidationError('operation must be "delete" or absent', Code.INVALID_OPERATION)
        item_id = item_id.strip()
        if item_id in seen:
            raise ValidationError(
                f"the {noun} {item_id} is listed twice", derived(f"DUPLICATE_{noun.upper()}")
            )
        seen.add(item_id)
        parsed.append((item_id, operation == "delete"))
    return parsed


def update_role_permissions(storage: Storage, role_id_: str, items: Any) -> Changes:
    """Add permissions to a role or (``operation: "delete"``) remove them; all or nothing.

    Every id must name an existing permission; adding one the role already has or removing
    one it lacks changes nothing and is not reported."""
    parsed = _bulk_items(items, "permissions", "permission")
    added: list[str] = []
    removed: list[str] = []
    try:
        with storage.transaction() as uow:
            _require_role(uow, role_id_)
            known = existing_permissions(uow, [pid for pid, _ in parsed])
            missing = [pid for pid, _ in parsed if pid not in known]
            if missing:
                raise NotFound(f"Permission {missing[0]} not found", Code.PERMISSION_NOT_FOUND)
            for pid, remove in parsed:
                if remove:
                    if uow[ROLES_REPO].remove_permission(role_id_, pid):
                        removed.append(pid)
                        uow.record(
                            EventType.ROLE_PERMISSION_REMOVED,
                            _link(role_id_, "permission", {"id": pid}),
                        )
                elif uow[ROLES_REPO].add_permission(role_id_, pid):
                    added.append(pid)
                    uow.record(
                        EventType.ROLE_PERMISSION_ADDED, _link(role_id_, "permission", {"id": pid})
                    )
    except IntegrityViolation:
        # A permission or the role was deleted concurrently; nothing was written.
        raise NotFound(
            "A permission or the role no longer exists", Code.PERMISSION_NOT_FOUND
        ) from None
    return Changes(added, removed)


def remove_role_permission(storage: Storage, role_id_: str, permission_id: str) -> None:
    with storage.transaction() as uow:
        _require_role(uow, role_id_)
        if find_permission(uow, permission_id) is None:
            raise NotFound("Permission not found", Code.PERMISSION_NOT_FOUND)
        if not uow[ROLES_REPO].remove_permission(role_id_, permission_id):
            raise NotFound("The role does not have this permission", Code.ROLE_PERMISSION_NOT_FOUND)
        uow.record(
            EventType.ROLE_PERMISSION_REMOVED, _link(role_id_, "permission", {"id": permission_id})
        )


# --- role scopes --------------------------------------------------------------------


def role_scopes(storage: Storage, role_id_: str) -> list[ApiScope]:
    with storage.read() as uow:
        _require_role(uow, role_id_)
        return uow[ROLES_REPO].scopes(role_id_)


def _scope_data(scope: ApiScope) -> dict[str, Any]:
    return {"id": scope.id, "key": scope.key, "api_id": scope.api_id}


def add_role_scope(storage: Storage, role_id_: str, body: Any) -> None:
    scope_id = decode_body(body, RoleScopeBody).scope_id
    if scope_id is None or (isinstance(scope_id, str) and not scope_id.strip()):
        raise ValidationError("scope_id is required", Code.SCOPE_ID_REQUIRED)
    if not isinstance(scope_id, str):
        raise ValidationError("scope_id must be a string", Code.INVALID_SCOPE_ID)
    scope_id = scope_id.strip()
    try:
        with storage.transaction() as uow:
            _require_role(uow, role_id_)
            scope = uow[ROLES_REPO].api_scope(scope_id)
            if scope is None:
                raise NotFound("Scope not found", Code.SCOPE_NOT_FOUND)
            if not uow[ROLES_REPO].add_scope(role_id_, scope_id):
                raise AlreadyExists("The role already has this scope", Code.ROLE_SCOPE_EXISTS)
            uow.record(EventType.ROLE_SCOPE_ADDED, _link(role_id_, "scope", _scope_data(scope)))
    except IntegrityViolation:
        raise NotFound("The scope or the role no longer exists", Code.SCOPE_NOT_FOUND) from None


def delete_role_scope(storage: Storage, role_id_: str, scope_id: str) -> None:
    with storage.transaction() as uow:
        _require_role(uow, role_id_)
        scope = uow[ROLES_REPO].api_scope(scope_id)
        if scope is None:
            raise NotFound("Scope not found", Code.SCOPE_NOT_FOUND)
        if not uow[ROLES_REPO].remove_scope(role_id_, scope_id):
            raise NotFound("The role does not have this scope", Code.ROLE_SCOPE_NOT_FOUND)
        uow.record(EventType.ROLE_SCOPE_REMOVED, _link(role_id_, "scope", _scope_data(scope)))


# --- system permissions -------------------------------------------------------------


def _catalogue_page(
    items: list[SystemPermission],
    order: tuple[str, bool] | None,
    after: CataloguePosition | None,
    size: int,
) -> tuple[list[SystemPermission], CataloguePosition | None]:
    """Keyset-page a slice of the catalogue: positions are the catalogue index, or
    (sort value, index) when sorted."""
    positions: list[tuple[Any, SystemPermission]] = []
    for item in items:
        index = _SYSTEM_ORDER[item.key]
        positions.append((index if order is None else (getattr(item, order[0]), index), item))
    descending = order is not None and order[1]
    positions.sort(key=lambda pair: pair[0], reverse=descending)
    if after is not None:
        if descending:
            positions = [p for p in positions if p[0] < after]
        else:
            positions = [p for p in positions if p[0] > after]
    return page(positions[: size + 1], size)


def list_system_permissions(
    order: tuple[str, bool] | None, after: CataloguePosition | None, size: int
) -> tuple[list[SystemPermission], CataloguePosition | None]:
    return _catalogue_page(list(SYSTEM_PERMISSIONS), order, after, size)


def list_role_system_permissions(
    storage: Storage,
    role_id_: str,
    order: tuple[str, bool] | None,
    after: CataloguePosition | None,
    size: int,
) -> tuple[list[SystemPermission], CataloguePosition | None]:
    with storage.read() as uow:
        _require_role(uow, role_id_)
        keys = uow[ROLES_REPO].system_permission_keys(role_id_)
    held = [p for p in SYSTEM_PERMISSIONS if p.key in keys]
    return _catalogue_page(held, order, after, size)


def _system_permission(ref: str) -> SystemPermission:
    found = _SYSTEM_BY_ID.get(ref) or _SYSTEM_BY_KEY.get(ref)
    if found is None:
        raise NotFound(f"System permission {ref} not found", Code.SYSTEM_PERMISSION_NOT_FOUND)
    return found


def update_role_system_permissions(storage: Storage, role_id_: str, items: Any) -> Changes:
    """Add or (``operation: "delete"``) remove system permissions, named by id (or key);
    all or nothing. Reports the ids actually added and removed."""
    parsed = _bulk_items(items, "system_permissions", "system_permission")
    resolved = [(_system_permission(ref), remove) for ref, remove in parsed]
    if len({p.id for p, _ in resolved}) != len(resolved):
        raise ValidationError(
            "a system permission is listed twice", Code.DUPLICATE_SYSTEM_PERMISSION
        )
    added: list[str] = []
    removed: list[str] = []
    try:
        with storage.transaction() as uow:
            _require_role(uow, role_id_)
            for permission, remove in resolved:
                item = {"id": permission.id, "key": permission.key}
                if remove:
                    if uow[ROLES_REPO].remove_system_permission(role_id_, permission.key):
                        removed.append(permission.id)
                        uow.record(
                            EventType.ROLE_SYSTEM_PERMISSION_REMOVED,
                            _link(role_id_, "system_permission", item),
                        )
                elif uow[ROLES_REPO].add_system_permission(role_id_, permission.key):
                    added.append(permission.id)
                    uow.record(
                        EventType.ROLE_SYSTEM_PERMISSION_ADDED,
                        _link(role_id_, "system_permission", item),
                    )
    except IntegrityViolation:
        raise _role_not_found() from None  # deleted concurrently; nothing was written
    return Changes(added, removed)


# --- for other resources ---------------------------------------------------------------


def release_assignment_permission(uow: UnitOfWork, event: DomainEvent) -> None:
    """On ``permission.deleted``: unset ``assignment_permission_id`` on every role naming it.

    A reaction (registered in this package's ``resource()``), so it runs in the deleting
    transaction and no role is left requiring a permission that no longer exists.
    """
    uow[ROLES_REPO].clear_assignment_permission(event.data["permission"]["id"])
