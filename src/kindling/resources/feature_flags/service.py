"""Feature flags: definitions, and overrides for the environment, organizations and users.

Values are strings on the wire and in storage, and must parse as the flag's type:
``bool`` is ``"true"`` or ``"false"``, ``int`` a decimal integer in the signed 64-bit
range (stored canonically, ``"007"`` becomes ``"7"``), ``str`` any text of at most
``STR_VALUE_MAX`` characters. ``allow_override_level`` bounds who may override:
``env`` the environment only, ``org`` also organizations, ``usr`` also users.

An organization sees, per flag: its own override, else the environment override, else
the default. Replacing a flag (``PUT``) with another type resets its overrides (they
were values of the old type), and lowering its level removes the overrides the new
level no longer allows, in the same transaction.

Every change records its event in its transaction: ``feature_flag.created``,
``.updated`` (when a field changed), ``.deleted``, and one
``feature_flag.override_updated`` or ``.override_deleted`` per override that actually
changed (so clearing an organization's overrides records one per override it had).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import Body, decode_body
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, Conflict, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import feature_flag_id
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import optional_text, required_text
from kindling.resources.feature_flags.model import FeatureFlag
from kindling.resources.feature_flags.repository import FEATURE_FLAGS_REPO
from kindling.resources.properties.service import choice, validate_key

FLAG_TYPES = ("str", "int", "bool")
LEVELS = ("env", "org", "usr")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
NAME_MAX = 64
DESCRIPTION_MAX = 255
STR_VALUE_MAX = 1024
_INT = re.compile(r"[+-]?[0-9]{1,19}")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class FlagValue:
    key: str
    type: str
    value: str


class FlagBody(Body, frozen=True):
    """``POST /feature_flags`` (a JSON body) and ``PUT /feature_flags/{key}`` (the same
    fields in the query string)."""

    name: object = None
    key: object = None
    description: object = None
    type: object = None
    allow_override_level: object = None
    default_value: object = None


#: The fields of a flag its events carry; all but the first two may change.
_FIELDS = ("id", "key", "name", "type", "default_value", "allow_override_level", "description")


def flag_data(flag: FeatureFlag) -> dict[str, Any]:
    return {field: getattr(flag, field) for field in _FIELDS}


def _override(
    uow: UnitOfWork, flag: FeatureFlag, level: str, value: str | None, **subject: Any
) -> None:
    """Record an override set (``value``) or removed (None) at ``level``."""
    data = {"feature_flag": {"id": flag.id, "key": flag.key}, "level": level, **subject}
    if value is None:
        uow.record(EventType.FEATURE_FLAG_OVERRIDE_DELETED, data)
    else:
        uow.record(EventType.FEATURE_FLAG_OVERRIDE_UPDATED, {**data, "value": value})


def parse_value(flag_type: str, raw: Any, field: str = "value") -> str:
    """Check that ``raw`` is a string of the flag's type; return its stored form."""
    code = field.upper()
    if raw is None:
        raise ValidationError(f"{field} is required", derived(f"{code}_REQUIRED"))
    if not isinstance(raw, str):
        raise ValidationError(f"{field} must be a string", derived(f"INVALID_{code}"))
    if flag_type == "bool":
        if raw not in ("true", "false"):
            raise ValidationError(
                f"{field} must be true or false for a bool flag", derived(f"INVALID_{code}")
            )
        return raw
    if flag_type == "int":
        if not _INT.fullmatch(raw) or not _INT_MIN <= int(raw) <= _INT_MAX:
            raise ValidationError(
                f"{field} must be a 64-bit integer for an int flag", derived(f"INVALID_{code}")
            )
        return str(int(raw))
    if len(raw) > STR_VALUE_MAX:
        raise ValidationError(
            f"{field} must be at most {STR_VALUE_MAX} characters", derived(f"{code}_TOO_LONG")
        )
    if any((ord(ch) < 0x20 and ch not in "\t\n\r") or ch == "\x7f" for ch in raw):
        raise ValidationError(f"{field} contains control characters", derived(f"INVALID_{code}"))
    return raw


def _level(value: Any, allowed: tuple[str, ...] = LEVELS) -> str:
    return choice(value, "allow_override_level", allowed, "ALLOW_OVERRIDE_LEVEL")


def _flag(uow: UnitOfWork, key: str) -> FeatureFlag:
    flag = uow[FEATURE_FLAGS_REPO].get_by_key(key) if key else None
    if flag is None:
        raise NotFound("Feature flag not found", Code.FEATURE_FLAG_NOT_FOUND)
    return flag


def _organization(uow: UnitOfWork, org_code: str) -> None:
    if not org_code or not uow[FEATURE_FLAGS_REPO].organization_exists(org_code):
        raise NotFound("Organization not found", Code.ORGANIZATION_NOT_FOUND)


def _allow(flag: FeatureFlag, level: str) -> None:
    if _RANK[flag.allow_override_level] < _RANK[level]:
        who = {"org": "organizations", "usr": "users"}[level]
        raise ValidationError(
            f"The feature flag {flag.key} cannot be overridden for {who} "
            f"(allow_override_level is {flag.allow_override_level})",
            Code.OVERRIDE_NOT_ALLOWED,
        )


# --- definitions -------------------------------------------------------------


def create_flag(storage: Storage, clock: Clock, body: Mapping[str, Any]) -> FeatureFlag:
    """Kinde's ``POST /feature_flags``; ``allow_override_level`` defaults to ``env``."""
    data = decode_body(body, FlagBody)
    name = required_text(data.name, "name", NAME_MAX, "NAME")
    key = validate_key(data.key)
    type_ = choice(data.type, "type", FLAG_TYPES, "TYPE")
    default = parse_value(type_, data.default_value, "default_value")
    description = optional_text(data.description, "description", DESCRIPTION_MAX, "DESCRIPTION")
    level = "env" if data.allow_override_level is None else _level(data.allow_override_level)
    flag = FeatureFlag(
        id=feature_flag_id(),
        key=key,
        name=name,
        type=type_,
        default_value=default,
        allow_override_level=level,
        description=description,
        created_on=isoformat(clock.now()),
    )
    exists = AlreadyExists("A feature flag with this key already exists", Code.FEATURE_FLAG_EXISTS)
    try:
        with storage.transaction() as uow:
            if uow[FEATURE_FLAGS_REPO].get_by_key(key) is not None:
                raise exists
            uow[FEATURE_FLAGS_REPO].add(flag)
            uow.record(EventType.FEATURE_FLAG_CREATED, {"feature_flag": flag_data(flag)})
    except IntegrityViolation:
        raise exists from None
    return flag


def update_flag(storage: Storage, key: str, query: Mapping[str, str]) -> FeatureFlag:
    """Kinde's ``PUT /feature_flags/{key}``: every field in the query string.

    Kinde's enum for ``allow_override_level`` here is ``env|org``; ``usr`` is accepted
    too, so that replacing a user-level flag does not have to drop its user overrides.
    """
    data = decode_body(query, FlagBody)
    name = required_text(data.name, "name", NAME_MAX, "NAME")
    description = optional_text(data.description, "description", DESCRIPTION_MAX, "DESCRIPTION")
    type_ = choice(data.type, "type", FLAG_TYPES, "TYPE")
    level = _level(data.allow_override_level)
    default = parse_value(type_, data.default_value, "default_value")
    with storage.transaction() as uow:
        flag = _flag(uow, key)
        retyped = flag.type != type_
        updated = replace(
            flag,
            name=name,
            description=description,
            type=type_,
            allow_override_level=level,
            default_value=default,
            environment_value=None if retyped else flag.environment_value,
        )
        uow[FEATURE_FLAGS_REPO].update(updated)
        uow[FEATURE_FLAGS_REPO].clear_overrides(
            flag.id,
            organizations=retyped or _RANK[level] < _RANK["org"],
            users=retyped or _RANK[level] < _RANK["usr"],
        )
        fields = [f for f in _FIELDS[2:] if getattr(updated, f) != getattr(flag, f)]
        if fields:
            uow.record(
                EventType.FEATURE_FLAG_UPDATED,
                {"feature_flag": flag_data(updated), "updated_fields": fields},
            )
    return updated


def delete_flag(storage: Storage, key: str) -> None:
    """Delete a flag and all its overrides."""
    with storage.transaction() as uow:
        flag = _flag(uow, key)
        uow[FEATURE_FLAGS_REPO].delete(flag.id)
        uow.record(
            EventType.FEATURE_FLAG_DELETED, {"feature_flag": {"id": flag.id, "key": flag.key}}
        )


# --- environment -------------------------------------------------------------


def environment_values(storage: Storage) -> list[FlagValue]:
    """Every flag with the environment's value: its override, else the default."""
    with storage.read() as uow:
        flags = uow[FEATURE_FLAGS_REPO].all()
    return [
        FlagValue(
            f.key,
            f.type,
            f.default_value if f.environment_value is None else f.environment_value,
        )
        for f in flags
    ]


def set_environment_value(storage: Storage, key: str, value: Any) -> None:
    with storage.transaction() as uow:
        flag = _flag(uow, key)
        stored = parse_value(flag.type, value)
        uow[FEATURE_FLAGS_REPO].update(replace(flag, environment_value=stored))
        if stored != flag.environment_value:
            _override(uow, flag, "env", stored)


def delete_environment_value(storage: Storage, key: str) -> None:
    with storage.transaction() as uow:
        flag = _flag(uow, key)
        uow[FEATURE_FLAGS_REPO].update(replace(flag, environment_value=None))
        if flag.environment_value is not None:
            _override(uow, flag, "env", None)


def clear_environment_values(storage: Storage) -> None:
    with storage.transaction() as uow:
        overridden = [f for f in uow[FEATURE_FLAGS_REPO].all() if f.environment_value is not None]
        uow[FEATURE_FLAGS_REPO].clear_environment_values()
        for flag in overridden:
            _override(uow, flag, "env", None)


# --- organizations -----------------------------------------------------------


def organization_values(storage: Storage, org_code: str) -> list[FlagValue]:
    """Every flag as the organization sees it: its override, else the environment's value."""
    with storage.read() as uow:
        _organization(uow, org_code)
        flags = uow[FEATURE_FLAGS_REPO].all()
        overrides = uow[FEATURE_FLAGS_REPO].organization_values(org_code)
    values = []
    for f in flags:
        value = f.default_value if f.environment_value is None else f.environment_value
        if f.id in overrides and _RANK[f.allow_override_level] >= _RANK["org"]:
            value = overrides[f.id]
        values.append(FlagValue(f.key, f.type, value))
    return values


def user_values(storage: Storage, user_id: str, org_code: str | None) -> list[FlagValue]:
    """Every flag as a user sees it, in Kinde's order of precedence.

    The user's override (where the flag allows ``usr``), else the organization's (where
    it allows ``org`` and an organization is given), else the environment's, else the
    default.
    """
    with storage.read() as uow:
        if not uow[FEATURE_FLAGS_REPO].user_exists(user_id):
            raise NotFound("User not found", Code.USER_NOT_FOUND)
        if org_code is not None:
            _organization(uow, org_code)
        flags = uow[FEATURE_FLAGS_REPO].all()
        org = uow[FEATURE_FLAGS_REPO].organization_values(org_code) if org_code else {}
        mine = uow[FEATURE_FLAGS_REPO].user_values(user_id)
    values = []
    for f in flags:
        value = f.default_value if f.environment_value is None else f.environment_value
        rank = _RANK[f.allow_override_level]
        if f.id in org and rank >= _RANK["org"]:
            value = org[f.id]
        if f.id in mine and rank >= _RANK["usr"]:
            value = mine[f.id]
        values.append(FlagValue(f.key, f.type, value))
    return values


def _concurrent_delete() -> Conflict:
    # PostgreSQL: the flag or the organization/user went away during the request.
    return Conflict(
        "The feature flag or its subject was deleted meanwhile; nothing was changed",
        Code.CONCURRENT_DELETE,
    )


def set_organization_value(storage: Storage, org_code: str, key: str, value: Any) -> None:
    try:
        with storage.transaction() as uow:
            _organization(uow, org_code)
            flag = _flag(uow, key)
            _allow(flag, "org")
            stored = parse_value(flag.type, value)
            before = uow[FEATURE_FLAGS_REPO].organization_values(org_code).get(flag.id)
            uow[FEATURE_FLAGS_REPO].set_organization_value(org_code, flag.id, stored)
            if stored != before:
                _override(uow, flag, "org", stored, organization={"code": org_code})
    except IntegrityViolation:
        raise _concurrent_delete() from None


def delete_organization_value(storage: Storage, org_code: str, key: str) -> None:
    """Remove the organization's override (a no-op when it has none)."""
    with storage.transaction() as uow:
        _organization(uow, org_code)
        flag = _flag(uow, key)
        if uow[FEATURE_FLAGS_REPO].delete_organization_value(org_code, flag.id):
            _override(uow, flag, "org", None, organization={"code": org_code})


def clear_organization_values(storage: Storage, org_code: str) -> None:
    with storage.transaction() as uow:
        _organization(uow, org_code)
        overrides = uow[FEATURE_FLAGS_REPO].organization_values(org_code)
        overridden = [f for f in uow[FEATURE_FLAGS_REPO].all() if f.id in overrides]
        uow[FEATURE_FLAGS_REPO].clear_organization_values(org_code)
        for flag in overridden:
            _override(uow, flag, "org", None, organization={"code": org_code})


# --- users -------------------------------------------------------------------


def set_user_value(storage: Storage, user_id: str, key: str, value: Any) -> None:
    try:
        with storage.transaction() as uow:
            if not user_id or not uow[FEATURE_FLAGS_REPO].user_exists(user_id):
                raise NotFound("User not found", Code.USER_NOT_FOUND)
            flag = _flag(uow, key)
            _allow(flag, "usr")
            stored = parse_value(flag.type, value)
            before = uow[FEATURE_FLAGS_REPO].user_values(user_id).get(flag.id)
            uow[FEATURE_FLAGS_REPO].set_user_value(user_id, flag.id, stored)
            if stored != before:
                _override(uow, flag, "usr", stored, user={"id": user_id})
    except IntegrityViolation:
        raise _concurrent_delete() from None
