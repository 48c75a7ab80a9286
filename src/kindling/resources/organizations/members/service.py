"""Organization membership: add, update, remove users; their roles, permissions, API scopes.

Every change is validated before anything is written and happens in one transaction:
a bulk request (at most 100 users) either applies completely or not at all. Roles and
permissions are named by key in the bulk operations and by id in the per-user ones,
as in Kinde's API. Removing a member removes the roles, permissions and API scopes it
held in that organization (the schema cascades), as does deleting the user or the
organization.

Every change records its domain events in its transaction (see
``kindling.platform.event_types``): ``organization.user_added`` when a user becomes a
member (with the roles and permissions it was given), ``organization.user_removed``
when it stops being one, ``organization.user_updated`` when a member's roles,
permissions or API scopes change (with what was added and removed) and
``organization.user_mfa_factor_deleted`` per factor reset. Bulk requests record one
event per user they change; a user they leave as it was records nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import Body, decode_body
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.pagination import page
from kindling.platform.storage import Storage, UnitOfWork
from kindling.resources.apis.service import api_scopes, find_api
from kindling.resources.organizations.members.model import (
    MemberPermission,
    MemberRole,
    OrganizationMember,
    OrganizationUserMfaFactor,
)
from kindling.resources.organizations.members.repository import MEMBERSHIPS_REPO

MAX_USERS_PER_REQUEST = 100
MAX_KEYS_PER_USER = 100
MAX_FILTER_VALUES = 100
ID_MAX = 255
KEY_MAX = 255
SORTS = {
    "name_asc": ("name", False),
    "name_desc": ("name", True),
    "email_asc": ("email", False),
    "email_desc": ("email", True),
}
#: Kinde's limit on the active-users window: ``date_time_to`` < ``date_time_from`` + 3 days.
ACTIVE_WINDOW = timedelta(days=3)
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)?"
)


@dataclass(frozen=True)
class UserChange:
    """One entry of a bulk request, validated."""

    user_id: str
    role_keys: tuple[str, ...]
    permission_keys: tuple[str, ...]
    remove: bool = False


@dataclass(frozen=True)
class BulkResult:
    added: list[str]
    updated: list[str]
    removed: list[str]


@dataclass(frozen=True)
class ActiveWindow:
    since: datetime
    until: datetime


@dataclass
class AccessChange:
    """What one change did to a member's access: the data of ``organization.user_updated``.

    Roles and permissions are ``{id, key}``; API scopes ``{id, key, api_id}``.
    """

    roles_added: list[dict[str, str]] = field(default_factory=list)
    roles_removed: list[dict[str, str]] = field(default_factory=list)
    permissions_added: list[dict[str, str]] = field(default_factory=list)
    permissions_removed: list[dict[str, str]] = field(default_factory=list)
    api_scopes_added: list[dict[str, str]] = field(default_factory=list)
    api_scopes_removed: list[dict[str, str]] = field(default_factory=list)

    def data(self) -> dict[str, list[dict[str, str]]]:
        """The non-empty lists, by name."""
        return {name: items for name, items in vars(self).items() if items}


# --- request bodies (see kindling.platform.bodies) ---------------------------------


class UserEntryBody(Body, frozen=True):
    """One entry of ``users`` in the bulk bodies."""

    id: object = None
    roles: object = None
    permissions: object = None
    #: ``PATCH`` only: ``"delete"`` removes the member.
    operation: object = None


class UsersBody(Body, frozen=True):
    """Kinde's ``POST`` and ``PATCH /organizations/{org_code}/users`` body."""

    users: object = None


# --- validation -------------------------------------------------------------------


def _text(value: Any, field: str, max_length: int, code: str) -> str:
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", derived(f"INVALID_{code}"))
    if value is None or not value.strip():
        raise ValidationError(f"{field} is required", derived(f"{code}_REQUIRED"))
    if len(value) > max_length or any(ord(ch) < 0x20 for ch in value):
        raise ValidationError(f"{field} is not valid", derived(f"INVALID_{code}"))
    return value


def _keys(value: Any, field: str, code: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValidationError(f"{field} must be a list of keys", derived(f"INVALID_{code}"))
    if len(value) > MAX_KEYS_PER_USER:
        raise ValidationError(
            f"at most {MAX_KEYS_PER_USER} {field} per user", derived(f"TOO_MANY_{code}")
        )
    keys = [_text(item, field, KEY_MAX, code) for item in value]
    return tuple(dict.fromkeys(keys))


def parse_user_changes(body: Any, allow_remove: bool) -> list[UserChange]:
    """Validate a bulk body ``{"users": [{id, roles, permissions[, operation]}]}``."""
    if not isinstance(body, dict):  # an omitted body too: ``users`` is required
        raise ValidationError("the request body must be a JSON object", Code.INVALID_BODY)
    users = decode_body(body, UsersBody).users
    if users is None:
        raise ValidationError("users is required", Code.USERS_REQUIRED)
    if not isinstance(users, list):
        raise ValidationError("users must be a list", Code.INVALID_USERS)
    if not users:
        raise ValidationError("users must not be empty", Code.USERS_REQUIRED)
    if len(users) > MAX_USERS_PER_REQUEST:
        raise ValidationError(
            f"at most {MAX_USERS_PER_REQUEST} users per request", Code.TOO_MANY_USERS
        )
    changes: list[UserChange] = []
    seen: set[str] = set()
    for raw in users:
        if not isinstance(raw, dict):
            raise ValidationError("each user must be an object", Code.INVALID_USERS)
        item = decode_body(raw, UserEntryBody)
        user_id = _text(item.id, "id", ID_MAX, "USER_ID")
        if user_id in seen:
            raise ValidationError(f"user {user_id} is given twice", Code.DUPLICATE_USER)
        seen.add(user_id)
        remove = False
        if allow_remove:
            operation = item.operation
            if operation not in (None, "delete"):
                raise ValidationError(
                    'operation must be "delete" or absent', Code.INVALID_OPERATION
                )
            remove = operation == "delete"
        changes.append(
            UserChange(
                user_id=user_id,
                role_keys=_keys(item.roles, "roles", "ROLES"),
                permission_keys=_keys(item.permissions, "permissions", "PERMISSIONS"),
                remove=remove,
            )
        )
    return changes


def parse_filter(value: str | None, field: str) -> list[str]:
    """A comma-separated filter (``roles``, ``permissions``): trimmed, distinct, ≤ 100."""
    if not value:
        return []
    items = list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if len(items) > MAX_FILTER_VALUES:
        raise ValidationError(
            f"at most {MAX_FILTER_VALUES} values in {field}", Code.TOO_MANY_FILTER_VALUES
        )
    return items


def _date_time(value: str | None, field: str) -> datetime:
    if not value:
        raise ValidationError(f"{field} is required", derived(f"{field.upper()}_REQUIRED"))
    text = value.strip()
    # An unencoded "+" in a query string arrives as a space: "…T00:00:00 00:00".
    if re.fullmatch(r".*\d{2}:\d{2}(:\d{2}(\.\d+)?)? \d{2}(:?\d{2})?", text):
        head, _, offset = text.rpartition(" ")
        text = f"{head}+{offset}"
    if not _DATE_TIME.fullmatch(text):
        raise ValidationError(f"{field} must be an ISO 8601 date-time", Code.INVALID_DATE_TIME)
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValidationError(
            f"{field} must be an ISO 8601 date-time", Code.INVALID_DATE_TIME
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_active_window(date_time_from: str | None, date_time_to: str | None) -> ActiveWindow:
    """Both bounds inclusive at second precision: ``from`` rounds down, ``to`` rounds up;
    the window must end before ``from`` + 3 days."""
    since = _date_time(date_time_from, "date_time_from").replace(microsecond=0)
    raw_until = _date_time(date_time_to, "date_time_to")
    until = raw_until.replace(microsecond=0)
    if until != raw_until:
        until += timedelta(seconds=1)
    if until < since:
        raise ValidationError(
            "date_time_to must not be earlier than date_time_from", Code.INVALID_DATE_TIME_RANGE
        )
    if until >= since + ACTIVE_WINDOW:
        raise ValidationError(
            "The date time range must not exceed 3 days", Code.DATE_TIME_RANGE_TOO_LARGE
        )
    return ActiveWindow(since, until)


# --- lookups inside a unit of work --------------------------------------------------


def _organization(uow: UnitOfWork, org_code: str) -> None:
    if not org_code or uow[MEMBERSHIPS_REPO].get_organization(org_code) is None:
        raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)


def _member(uow: UnitOfWork, org_code: str, user_id: str) -> None:
    _organization(uow, org_code)
    if not uow[MEMBERSHIPS_REPO].is_member(org_code, user_id):
        if not uow[MEMBERSHIPS_REPO].existing_users([user_id]):
            raise NotFound("User not found", Code.USER_NOT_FOUND)
        raise NotFound(
            "The user is not a member of this organization", Code.USER_NOT_IN_ORGANIZATION
        )


def _role(uow: UnitOfWork, role_id: str) -> MemberRole:
    role = uow[MEMBERSHIPS_REPO].get_role(role_id) if role_id else None
    if role is None:
        raise NotFound("Role not found", Code.ROLE_NOT_FOUND)
    return role


def _resolve(
    uow: UnitOfWork, changes: list[UserChange]
) -> tuple[dict[str, MemberRole], dict[str, MemberPermission]]:
    """Check that every user, role key and permission key exists (nothing written yet)."""
    ids = [c.user_id for c in changes]
    found = uow[MEMBERSHIPS_REPO].existing_users(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"User {missing[0]} not found", Code.USER_NOT_FOUND)
    role_keys = list(dict.fromkeys(k for c in changes for k in c.role_keys))
    roles = uow[MEMBERSHIPS_REPO].roles_by_keys(role_keys)
    unknown = [k for k in role_keys if k not in roles]
    if unknown:
        raise NotFound(f"Role {unknown[0]} not found", Code.ROLE_NOT_FOUND)
    permission_keys = list(dict.fromkeys(k for c in changes for k in c.permission_keys))
    permissions = uow[MEMBERSHIPS_REPO].permissions_by_keys(permission_keys)
    unknown = [k for k in permission_keys if k not in permissions]
    if unknown:
        raise NotFound(f"Permission {unknown[0]} not found", Code.PERMISSION_NOT_FOUND)
    return roles, permissions


def _grant(
    uow: UnitOfWork,
    org_code: str,
    change: UserChange,
    roles: dict[str, MemberRole],
    permissions: dict[str, MemberPermission],
    now: str,
) -> AccessChange:
    """Give a member the change's roles and permissions it does not hold yet; say which."""
    granted = AccessChange()
    held = {r.id for r in uow[MEMBERSHIPS_REPO].member_roles(org_code, change.user_id)}
    for key in change.role_keys:
        if roles[key].id not in held:
            uow[MEMBERSHIPS_REPO].add_member_role(org_code, change.user_id, roles[key].id, now)
            granted.roles_added.append(_ref(roles[key]))
    direct = uow[MEMBERSHIPS_REPO].direct_permission_ids(org_code, change.user_id)
    for key in change.permission_keys:
        if permissions[key].id not in direct:
            uow[MEMBERSHIPS_REPO].add_member_permission(
                org_code, change.user_id, permissions[key].id
            )
            granted.permissions_added.append(_ref(permissions[key]))
    return granted


def _ref(item: MemberRole | MemberPermission) -> dict[str, str]:
    return {"id": item.id, "key": item.key}


def _subject(org_code: str, user_id: str) -> dict[str, Any]:
    return {"organization": {"code": org_code}, "user": {"id": user_id}}


def _record_added(uow: UnitOfWork, org_code: str, user_id: str, granted: AccessChange) -> None:
    uow.record(
        EventType.ORGANIZATION_USER_ADDED,
        {
            **_subject(org_code, user_id),
            "roles": granted.roles_added,
            "permissions": granted.permissions_added,
        },
    )


def _record_updated(uow: UnitOfWork, org_code: str, user_id: str, change: AccessChange) -> None:
    """Record ``organization.user_updated`` when the member's access changed."""
    data = change.data()
    if data:
        uow.record(EventType.ORGANIZATION_USER_UPDATED, {**_subject(org_code, user_id), **data})


def _record_removed(uow: UnitOfWork, org_code: str, user_id: str) -> None:
    uow.record(EventType.ORGANIZATION_USER_REMOVED, _subject(org_code, user_id))


def _conflict() -> AlreadyExists:
    return AlreadyExists(
        "The organization membership changed concurrently; retry", Code.MEMBERSHIP_CONFLICT
    )


# --- bulk operations ----------------------------------------------------------------


def add_users(storage: Storage, clock: Clock, org_code: str, body: Any) -> list[str]:
    """``POST /organizations/{org_code}/users``: add users (with roles and permissions).

    Users already in the organization keep their membership and get the roles and
    permissions they lack; only users who were not members are reported as added.
    Records ``organization.user_added`` per new member and ``organization.user_updated``
    per member that gained something.
    """
    changes = parse_user_changes(body, allow_remove=False)
    now = isoformat(clock.now())
    added: list[str] = []
    try:
        with storage.transaction() as uow:
            _organization(uow, org_code)
            roles, permissions = _resolve(uow, changes)
            members = uow[MEMBERSHIPS_REPO].members_among(org_code, [c.user_id for c in changes])
            for change in changes:
                if change.user_id not in members:
                    uow[MEMBERSHIPS_REPO].add_member(org_code, change.user_id, now)
                    added.append(change.user_id)
                    granted = _grant(uow, org_code, change, roles, permissions, now)
                    _record_added(uow, org_code, change.user_id, granted)
                else:
                    granted = _grant(uow, org_code, change, roles, permissions, now)
                    _record_updated(uow, org_code, change.user_id, granted)
    except IntegrityViolation:
        raise _conflict() from None
    return added


def update_users(storage: Storage, clock: Clock, org_code: str, body: Any) -> BulkResult:
    """``PATCH /organizations/{org_code}/users``: ``operation: "delete"`` removes a member;
    otherwise the user is added (if not a member) or updated, gaining the given roles and
    permissions. Removing a non-member changes nothing and is not reported."""
    changes = parse_user_changes(body, allow_remove=True)
    now = isoformat(clock.now())
    result = BulkResult([], [], [])
    try:
        with storage.transaction() as uow:
            _organization(uow, org_code)
            roles, permissions = _resolve(uow, changes)
            members = uow[MEMBERSHIPS_REPO].members_among(org_code, [c.user_id for c in changes])
            for change in changes:
                if change.remove:
                    if uow[MEMBERSHIPS_REPO].remove_member(org_code, change.user_id):
                        result.removed.append(change.user_id)
                        _record_removed(uow, org_code, change.user_id)
                    continue
                if change.user_id in members:
                    result.updated.append(change.user_id)
                    granted = _grant(uow, org_code, change, roles, permissions, now)
                    _record_updated(uow, org_code, change.user_id, granted)
                else:
                    uow[MEMBERSHIPS_REPO].add_member(org_code, change.user_id, now)
                    result.added.append(change.user_id)
                    granted = _grant(uow, org_code, change, roles, permissions, now)
                    _record_added(uow, org_code, change.user_id, granted)
    except IntegrityViolation:
        raise _conflict() from None
    return result


def list_members(
    storage: Storage,
    org_code: str,
    after: tuple[str, int] | None,
    size: int,
    sort: str,
    descending: bool,
    role_keys: list[str],
    permission_keys: list[str],
) -> tuple[list[OrganizationMember], tuple[str, int] | None]:
    with storage.read() as uow:
        _organization(uow, org_code)
        rows = uow[MEMBERSHIPS_REPO].list_members(
            org_code, after, size + 1, sort, descending, role_keys, permission_keys
        )
    return page(rows, size)


def remove_user(storage: Storage, org_code: str, user_id: str) -> None:
    """Remove a member (with its roles, permissions, scopes and MFA factors there)."""
    with storage.transaction() as uow:
        _member(uow, org_code, user_id)
        uow[MEMBERSHIPS_REPO].remove_member(org_code, user_id)
        _record_removed(uow, org_code, user_id)


# --- roles of a member --------------------------------------------------------------


def user_roles(storage: Storage, org_code: str, user_id: str) -> list[MemberRole]:
    with storage.read() as uow:
        _member(uow, org_code, user_id)
        return uow[MEMBERSHIPS_REPO].member_roles(org_code, user_id)


def add_user_role(
    storage: Storage, clock: Clock, org_code: str, user_id: str, role_id: Any
) -> None:
    if not isinstance(role_id, str) or not role_id.strip():
        raise ValidationError("role_id is required", Code.ROLE_ID_REQUIRED)
    try:
        with storage.transaction() as uow:
            _member(uow, org_code, user_id)
            role = _role(uow, role_id)
            if any(r.id == role.id for r in uow[MEMBERSHIPS_REPO].member_roles(org_code, user_id)):
                raise AlreadyExists("The user already has this role", Code.ROLE_ALREADY_ASSIGNED)
            uow[MEMBERSHIPS_REPO].add_member_role(
                org_code, user_id, role.id, isoformat(clock.now())
            )
            _record_updated(uow, org_code, user_id, AccessChange(roles_added=[_ref(role)]))
    except IntegrityViolation:
        raise AlreadyExists("The user already has this role", Code.ROLE_ALREADY_ASSIGNED) from None


def remove_user_role(storage: Storage, org_code: str, user_id: str, role_id: str) -> None:
    with storage.transaction() as uow:
        _member(uow, org_code, user_id)
        role = _role(uow, role_id)
        if not uow[MEMBERSHIPS_REPO].remove_member_role(org_code, user_id, role_id):
            raise NotFound("The user does not have this role", Code.ROLE_NOT_ASSIGNED)
        _record_updated(uow, org_code, user_id, AccessChange(roles_removed=[_ref(role)]))


# --- permissions of a member --------------------------------------------------------


def user_permissions(storage: Storage, org_code: str, user_id: str) -> list[MemberPermission]:
    with storage.read() as uow:
        _member(uow, org_code, user_id)
        return uow[MEMBERSHIPS_REPO].member_permissions(org_code, user_id)


def _permission(uow: UnitOfWork, permission_id: str) -> MemberPermission:
    permission = uow[MEMBERSHIPS_REPO].get_permission(permission_id) if permission_id else None
    if permission is None:
        raise NotFound("Permission not found", Code.PERMISSION_NOT_FOUND)
    return permission


def add_user_permission(storage: Storage, org_code: str, user_id: str, permission_id: Any) -> None:
    if not isinstance(permission_id, str) or not permission_id.strip():
        raise ValidationError("permission_id is required", Code.PERMISSION_ID_REQUIRED)
    exists = AlreadyExists("The user already has this permission", Code.PERMISSION_ALREADY_ASSIGNED)
    try:
        with storage.transaction() as uow:
            _member(uow, org_code, user_id)
            permission = _permission(uow, permission_id)
            if permission.id in uow[MEMBERSHIPS_REPO].direct_permission_ids(org_code, user_id):
                raise exists
            uow[MEMBERSHIPS_REPO].add_member_permission(org_code, user_id, permission.id)
            _record_updated(
                uow, org_code, user_id, AccessChange(permissions_added=[_ref(permission)])
            )
    except IntegrityViolation:
        raise exists from None


def remove_user_permission(
    storage: Storage, org_code: str, user_id: str, permission_id: str
) -> None:
    with storage.transaction() as uow:
        _member(uow, org_code, user_id)
        permission = _permission(uow, permission_id)
        if not uow[MEMBERSHIPS_REPO].remove_member_permission(org_code, user_id, permission_id):
            raise NotFound("The user does not have this permission", Code.PERMISSION_NOT_ASSIGNED)
        _record_updated(
            uow, org_code, user_id, AccessChange(permissions_removed=[_ref(permission)])
        )


# --- API scopes of a member ---------------------------------------------------------


def set_user_api_scope(
    storage: Storage, org_code: str, user_id: str, api_id: str, scope_id: str, granted: bool
) -> None:
    """Give (or take) a member one scope of an API; the scope must belong to the API."""
    exists = AlreadyExists("The user already has this API scope", Code.SCOPE_ALREADY_ASSIGNED)
    try:
        with storage.transaction() as uow:
            _member(uow, org_code, user_id)
            if not api_id or find_api(uow, api_id) is None:
                raise NotFound("API not found", Code.API_NOT_FOUND)
            scope = next((s for s in api_scopes(uow, api_id) if s.id == scope_id), None)
            if scope is None:
                raise NotFound("The API has no such scope", Code.SCOPE_NOT_FOUND)
            ref = {"id": scope.id, "key": scope.key, "api_id": api_id}
            held = uow[MEMBERSHIPS_REPO].has_member_api_scope(org_code, user_id, api_id, scope_id)
            if granted:
                if held:
                    raise exists
                uow[MEMBERSHIPS_REPO].add_member_api_scope(org_code, user_id, api_id, scope_id)
                _record_updated(uow, org_code, user_id, AccessChange(api_scopes_added=[ref]))
            elif uow[MEMBERSHIPS_REPO].remove_member_api_scope(org_code, user_id, api_id, scope_id):
                _record_updated(uow, org_code, user_id, AccessChange(api_scopes_removed=[ref]))
            else:
                raise NotFound("The user does not have this API scope", Code.SCOPE_NOT_ASSIGNED)
    except IntegrityViolation:
        raise exists from None


# --- MFA of a member ----------------------------------------------------------------


def user_mfa(storage: Storage, org_code: str, user_id: str) -> OrganizationUserMfaFactor:
    """The member's (first) MFA factor in the organization; NotFound when none."""
    with storage.read() as uow:
        _member(uow, org_code, user_id)
        factors = uow[MEMBERSHIPS_REPO].mfa_factors(org_code, user_id)
    if not factors:
        raise NotFound("The user has no MFA configured in this organization", Code.MFA_NOT_FOUND)
    return factors[0]


def reset_user_mfa(
    storage: Storage, org_code: str, user_id: str, factor_id: str | None = None
) -> None:
    """Remove one factor (NotFound if the user has no such factor here) or all of them.

    Records ``organization.user_mfa_factor_deleted`` per factor removed.
    """
    with storage.transaction() as uow:
        _member(uow, org_code, user_id)
        factors = uow[MEMBERSHIPS_REPO].mfa_factors(org_code, user_id)
        deleted = uow[MEMBERSHIPS_REPO].delete_mfa_factors(org_code, user_id, factor_id)
        if factor_id is not None and deleted == 0:
            raise NotFound("MFA factor not found", Code.MFA_FACTOR_NOT_FOUND)
        for factor in factors:
            if factor_id is None or factor.id == factor_id:
                uow.record(
                    EventType.ORGANIZATION_USER_MFA_FACTOR_DELETED,
                    {
                        **_subject(org_code, user_id),
                        "factor": {"id": factor.id, "type": factor.type},
                    },
                )


# --- users of a role ----------------------------------------------------------------


def role_members(
    storage: Storage, org_code: str, role_id: str, after: int | None, size: int
) -> tuple[list[str], int | None]:
    with storage.read() as uow:
        _organization(uow, org_code)
        _role(uow, role_id)
        rows = uow[MEMBERSHIPS_REPO].role_members(org_code, role_id, after, size + 1)
    return page(rows, size)


def count_role_members(storage: Storage, org_code: str, role_id: str) -> int:
    with storage.read() as uow:
        _organization(uow, org_code)
        _role(uow, role_id)
        return uow[MEMBERSHIPS_REPO].count_role_members(org_code, role_id)


def count_active_role_members(
    storage: Storage, org_code: str, role_id: str, window: ActiveWindow
) -> int:
    """Members holding the role whose last access falls in the inclusive window."""
    since = isoformat(window.since.timestamp())
    until = isoformat((window.until + timedelta(seconds=1)).timestamp())
    with storage.read() as uow:
        _organization(uow, org_code)
        _role(uow, role_id)
        return uow[MEMBERSHIPS_REPO].count_active_role_members(org_code, role_id, since, until)


def role_users(
    storage: Storage, role_id: str, after: int | None, size: int
) -> tuple[list[tuple[str, list[str]]], int | None]:
    with storage.read() as uow:
        _role(uow, role_id)
        rows = uow[MEMBERSHIPS_REPO].role_users(role_id, after, size + 1)
    return page(rows, size)
