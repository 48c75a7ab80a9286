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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, Conflict, NotFound, ValidationError
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
    name = required_text(body.get("name"), "name", NAME_MAX, "NAME")
    key = validate_key(body.get("key"))
    type_ = choice(body.get("type"), "type", FLAG_TYPES, "TYPE")
    default = parse_value(type_, body.get("default_value"), "default_value")
    description = optional_text(
        body.get("description"), "description", DESCRIPTION_MAX, "DESCRIPTION"
    )
    level = (
        "env"
        if body.get("allow_override_level") is None
        else _level(body.get("allow_override_level"))
    )
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
    except IntegrityViolation:
        raise exists from None
    return flag


def update_flag(storage: Storage, key: str, query: Mapping[str, str]) -> FeatureFlag:
    """Kinde's ``PUT /feature_flags/{key}``: every field in the query string.

    Kinde's enum for ``allow_override_level`` here is ``env|org``; ``usr`` is accepted
    too, so that replacing a user-level flag does not have to drop its user overrides.
    """
    name = required_text(query.get("name"), "name", NAME_MAX, "NAME")
    description = optional_text(
        query.get("description"), "description", DESCRIPTION_MAX, "DESCRIPTION"
    )
    type_ = choice(query.get("type"), "type", FLAG_TYPES, "TYPE")
    level = _level(query.get("allow_override_level"))
    default = parse_value(type_, query.get("default_value"), "default_value")
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
    return updated


def delete_flag(storage: Storage, key: str) -> None:
    """Delete a flag and all its overrides."""
    with storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].delete(_flag(uow, key).id)


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
        uow[FEATURE_FLAGS_REPO].update(
            replace(flag, environment_value=parse_value(flag.type, value))
        )


def delete_environment_value(storage: Storage, key: str) -> None:
    with storage.transaction() as uow:
        flag = _flag(uow, key)
        uow[FEATURE_FLAGS_REPO].update(replace(flag, environment_value=None))


def clear_environment_values(storage: Storage) -> None:
    with storage.transaction() as uow:
        uow[FEATURE_FLAGS_REPO].clear_environment_values()


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
            uow[FEATURE_FLAGS_REPO].set_organization_value(org_code, flag.id, stored)
    except IntegrityViolation:
        raise _concurrent_delete() from None


def delete_organization_value(storage: Storage, org_code: str, key: str) -> None:
    """Remove the organization's override (a no-op when it has none)."""
    with storage.transaction() as uow:
        _organization(uow, org_code)
        uow[FEATURE_FLAGS_REPO].delete_organization_value(org_code, _flag(uow, key).id)


def clear_organization_values(storage: Storage, org_code: str) -> None:
    with storage.transaction() as uow:
        _organization(uow, org_code)
        uow[FEATURE_FLAGS_REPO].clear_organization_values(org_code)


# --- users -------------------------------------------------------------------


def set_user_value(storage: Storage, user_id: str, key: str, value: Any) -> None:
    try:
        with storage.transaction() as uow:
            if not user_id or not uow[FEATURE_FLAGS_REPO].user_exists(user_id):
                raise NotFound("User not found", Code.USER_NOT_FOUND)
            flag = _flag(uow, key)
            _allow(flag, "usr")
            uow[FEATURE_FLAGS_REPO].set_user_value(user_id, flag.id, parse_value(flag.type, value))
    except IntegrityViolation:
        raise _concurrent_delete() from None
