"""Properties: definitions, categories, and the values users, organizations and apps hold.

A property belongs to one context (``usr``, ``org`` or ``app``) and one category of the
same context; its key is unique in the environment (a unique index). Values are strings,
validated against the property's type: ``single_line_text`` is one line of at most
``SINGLE_LINE_MAX`` characters, ``multi_line_text`` may hold line breaks and tabs, up to
``MULTI_LINE_MAX``. A subject's values are listed with every property of its context,
``value`` None for those never set. Bulk updates are all or nothing.

Every change records its event in its transaction (``property_category.*``,
``property.*``, and one ``property_value.updated`` or ``property_value.deleted`` per
value that actually changed); a call that changes nothing records nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kindling.clock import Clock, isoformat
from kindling.platform.bodies import UNSET, Body, decode_body, given, or_none
from kindling.platform.codes import Code, derived
from kindling.platform.engine import IntegrityViolation
from kindling.platform.errors import AlreadyExists, Conflict, NotFound, ValidationError
from kindling.platform.event_types import EventType
from kindling.platform.ids import property_category_id, property_id
from kindling.platform.storage import Storage, UnitOfWork
from kindling.platform.validation import optional_text, required_text
from kindling.resources.properties.model import Property, PropertyCategory, PropertyValue
from kindling.resources.properties.repository import PROPERTIES_REPO

CONTEXTS = ("usr", "org", "app")
#: ``GET /property_categories`` filters by user or organization context only (Kinde's enum).
CATEGORY_FILTER_CONTEXTS = ("usr", "org")
PROPERTY_TYPES = ("single_line_text", "multi_line_text")
NAME_MAX = 64
DESCRIPTION_MAX = 255
KEY_MAX = 128
ID_MAX = 64
SINGLE_LINE_MAX = 255
MULTI_LINE_MAX = 4000
MAX_BULK = 100
#: Keys go into URL paths, so: ASCII letters, digits, ``_ . : -``, not starting with a dot.
KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,127}")
_SUBJECT_NOT_FOUND = {
    "usr": ("User not found", Code.USER_NOT_FOUND),
    "org": ("Organization not found", Code.ORGANIZATION_NOT_FOUND),
    "app": ("Application not found", Code.APPLICATION_NOT_FOUND),
}
_CONTEXT_NAMES = {"usr": "users", "org": "organizations", "app": "applications"}
#: How value events name their subject, as Kinde's webhooks name users, organizations
#: and applications: (object name, identifying field).
_SUBJECTS = {"usr": ("user", "id"), "org": ("organization", "code"), "app": ("application", "id")}


class CategoryBody(Body, frozen=True):
    """``POST /property_categories`` and ``PUT /property_categories/{id}``."""

    name: object = None
    context: object = None


class PropertyBody(Body, frozen=True):
    """``POST /properties`` and ``PUT /properties/{id}``; a sent ``description`` (even
    null) replaces the current one on update."""

    name: object = None
    key: object = None
    type: object = None
    context: object = None
    is_private: object = None
    category_id: object = None
    description: object = UNSET


class ValuesBody(Body, frozen=True):
    """``PATCH /users|organizations/{id}/properties``: ``{"properties": {key: value}}``."""

    properties: object = None


#: The fields of a property its events carry; all but the first three may change.
_PROPERTY_FIELDS = (
    "id",
    "key",
    "context",
    "name",
    "type",
    "is_private",
    "category_id",
    "description",
)


def category_data(category: PropertyCategory) -> dict[str, Any]:
    return {"id": category.id, "name": category.name, "context": category.context}


def property_data(prop: Property) -> dict[str, Any]:
    return {field: getattr(prop, field) for field in _PROPERTY_FIELDS}


def validate_key(value: Any, code_prefix: str = "KEY") -> str:
    if value is None or value == "":
        raise ValidationError("key is required", derived(f"{code_prefix}_REQUIRED"))
    if not isinstance(value, str):
        raise ValidationError("key must be a string", derived(f"INVALID_{code_prefix}"))
    if len(value) > KEY_MAX:
        raise ValidationError(
            f"key must be at most {KEY_MAX} characters", derived(f"{code_prefix}_TOO_LONG")
        )
    if not KEY.fullmatch(value):
        raise ValidationError(
            "key may contain only ASCII letters, digits, _ . : and -, and must not start "
            "with . : or -",
            derived(f"INVALID_{code_prefix}"),
        )
    return value


def choice(value: Any, field: str, allowed: tuple[str, ...], code: str) -> str:
    if value is None or value == "":
        raise ValidationError(f"{field} is required", derived(f"{code}_REQUIRED"))
    if value not in allowed:
        raise ValidationError(
            f"{field} must be one of {', '.join(allowed)}", derived(f"INVALID_{code}")
        )
    return str(value)


def _required_bool(value: Any, field: str) -> bool:
    if value is None:
        raise ValidationError(f"{field} is required", derived(f"{field.upper()}_REQUIRED"))
    if not isinstance(value, bool):
        raise ValidationError(f"{field} must be true or false", derived(f"INVALID_{field.upper()}"))
    return value


def _context_filter(value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is None or value == "":
        return None
    if value not in allowed:
        raise ValidationError(f"context must be one of {', '.join(allowed)}", Code.INVALID_CONTEXT)
    return value


def _keyset_bounds(
    starting_after: str | None, ending_before: str | None
) -> tuple[str | None, str | None]:
    after = starting_after or None
    before = ending_before or None
    if after and before:
        raise ValidationError(
            "starting_after and ending_before cannot be used together", Code.INVALID_PAGINATION
        )
    return after, before


def _trim(rows: list[Any], size: int, backwards: bool) -> tuple[list[Any], bool]:
    """Fetched ``size + 1`` rows in ascending order; drop the look-ahead row."""
    if len(rows) <= size:
        return rows, False
    return (rows[1:] if backwards else rows[:size]), True


# --- categories --------------------------------------------------------------


def create_category(storage: Storage, clock: Clock, body: Mapping[str, Any]) -> PropertyCategory:
    data = decode_body(body, CategoryBody)
    name = required_text(data.name, "name", NAME_MAX, "NAME")
    context = choice(data.context, "context", CONTEXTS, "CONTEXT")
    category = PropertyCategory(
        id=property_category_id(), name=name, context=context, created_on=isoformat(clock.now())
    )
    with storage.transaction() as uow:
        uow[PROPERTIES_REPO].add_category(category)
        uow.record(
            EventType.PROPERTY_CATEGORY_CREATED, {"property_category": category_data(category)}
        )
    return category


def update_category(storage: Storage, category_id: str, body: Mapping[str, Any]) -> None:
    data = decode_body(body, CategoryBody)
    name = None
    if data.name is not None:
        name = required_text(data.name, "name", NAME_MAX, "NAME")
    with storage.transaction() as uow:
        current = uow[PROPERTIES_REPO].get_category(category_id)
        if current is None:
            raise NotFound("Category not found", Code.CATEGORY_NOT_FOUND)
        if name is not None:
            uow[PROPERTIES_REPO].rename_category(category_id, name)
            if name != current.name:
                uow.record(
                    EventType.PROPERTY_CATEGORY_UPDATED,
                    {
                        "property_category": category_data(replace(current, name=name)),
                        "updated_fields": ["name"],
                    },
                )


def list_categories(
    storage: Storage,
    context: str | None,
    starting_after: str | None,
    ending_before: str | None,
    size: int,
) -> tuple[list[PropertyCategory], bool]:
    wanted = _context_filter(context, CATEGORY_FILTER_CONTEXTS)
    after_id, before_id = _keyset_bounds(starting_after, ending_before)
    with storage.read() as uow:
        after = before = None
        if after_id is not None:
            after = uow[PROPERTIES_REPO].category_position(after_id)
            if after is None:
                raise ValidationError(
                    "starting_after is not a category id", Code.INVALID_STARTING_AFTER
                )
        if before_id is not None:
            before = uow[PROPERTIES_REPO].category_position(before_id)
            if before is None:
                raise ValidationError(
                    "ending_before is not a category id", Code.INVALID_ENDING_BEFORE
                )
        rows = uow[PROPERTIES_REPO].list_categories(wanted, after, before, size + 1)
    return _trim(rows, size, before is not None)


# --- property definitions ----------------------------------------------------


def _category_for(uow: UnitOfWork, category_id: str, context: str) -> PropertyCategory:
    category = uow[PROPERTIES_REPO].get_category(category_id)
    if category is None:
        raise NotFound("Category not found", Code.CATEGORY_NOT_FOUND)
    if category.context != context:
        raise ValidationError(
            f"the category is for {_CONTEXT_NAMES[category.context]}, the property for "
            f"{_CONTEXT_NAMES[context]}",
            Code.CATEGORY_CONTEXT_MISMATCH,
        )
    return category


def create_property(storage: Storage, clock: Clock, body: Mapping[str, Any]) -> Property:
    """Kinde's ``POST /properties``; the key must be new and the category must exist."""
    data = decode_body(body, PropertyBody)
    name = required_text(data.name, "name", NAME_MAX, "NAME")
    key = validate_key(data.key)
    type_ = choice(data.type, "type", PROPERTY_TYPES, "TYPE")
    context = choice(data.context, "context", CONTEXTS, "CONTEXT")
    is_private = _required_bool(data.is_private, "is_private")
    category_id = required_text(data.category_id, "category_id", ID_MAX, "CATEGORY_ID")
    description = optional_text(
        or_none(data.description), "description", DESCRIPTION_MAX, "DESCRIPTION"
    )
    prop = Property(
        id=property_id(),
        key=key,
        name=name,
        type=type_,
        context=context,
        is_private=is_private,
        category_id=category_id,
        description=description,
        created_on=isoformat(clock.now()),
    )
    exists = AlreadyExists("A property with this key already exists", Code.PROPERTY_KEY_EXISTS)
    try:
        with storage.transaction() as uow:
            _category_for(uow, category_id, context)
            if uow[PROPERTIES_REPO].get_by_key(key) is not None:
                raise exists
            uow[PROPERTIES_REPO].add(prop)
            uow.record(EventType.PROPERTY_CREATED, {"property": property_data(prop)})
    except IntegrityViolation:
        raise exists from None
    return prop


def update_property(storage: Storage, property_id_: str, body: Mapping[str, Any]) -> Property:
    """Kinde's ``PUT /properties/{id}``: name, is_private and category (same context);
    ``description`` changes when sent (null or "" clears it)."""
    data = decode_body(body, PropertyBody)
    name = required_text(data.name, "name", NAME_MAX, "NAME")
    is_private = _required_bool(data.is_private, "is_private")
    category_id = required_text(data.category_id, "category_id", ID_MAX, "CATEGORY_ID")
    changes: dict[str, Any] = {"name": name, "is_private": is_private, "category_id": category_id}
    if given(data.description):
        changes["description"] = optional_text(
            data.description, "description", DESCRIPTION_MAX, "DESCRIPTION"
        )
    with storage.transaction() as uow:
        prop = uow[PROPERTIES_REPO].get(property_id_)
        if prop is None:
            raise NotFound("Property not found", Code.PROPERTY_NOT_FOUND)
        if prop.is_kinde_property:
            raise ValidationError("Kinde's own properties cannot be changed", Code.KINDE_PROPERTY)
        _category_for(uow, category_id, prop.context)
        updated = replace(prop, **changes)
        uow[PROPERTIES_REPO].update(updated)
        fields = [f for f in changes if getattr(updated, f) != getattr(prop, f)]
        if fields:
            uow.record(
                EventType.PROPERTY_UPDATED,
                {"property": property_data(updated), "updated_fields": fields},
            )
    return updated


def delete_property(storage: Storage, property_id_: str) -> None:
    """Delete a property and every value of it (users, organizations, applications)."""
    with storage.transaction() as uow:
        prop = uow[PROPERTIES_REPO].get(property_id_)
        if prop is None:
            raise NotFound("Property not found", Code.PROPERTY_NOT_FOUND)
        if prop.is_kinde_property:
            raise ValidationError("Kinde's own properties cannot be deleted", Code.KINDE_PROPERTY)
        uow[PROPERTIES_REPO].delete(property_id_)
        uow.record(EventType.PROPERTY_DELETED, {"property": {"id": prop.id, "key": prop.key}})


def list_properties(
    storage: Storage,
    context: str | None,
    starting_after: str | None,
    ending_before: str | None,
    size: int,
) -> tuple[list[Property], bool]:
    wanted = _context_filter(context, CONTEXTS)
    after_id, before_id = _keyset_bounds(starting_after, ending_before)
    with storage.read() as uow:
        after = before = None
        if after_id is not None:
            after = uow[PROPERTIES_REPO].position(after_id)
            if after is None:
                raise ValidationError(
                    "starting_after is not a property id", Code.INVALID_STARTING_AFTER
                )
        if before_id is not None:
            before = uow[PROPERTIES_REPO].position(before_id)
            if before is None:
                raise ValidationError(
                    "ending_before is not a property id", Code.INVALID_ENDING_BEFORE
                )
        rows = uow[PROPERTIES_REPO].list_page(wanted, after, before, size + 1)
    return _trim(rows, size, before is not None)


# --- values ------------------------------------------------------------------


def _wire_value(value: Any, key: str) -> str | None:
    """A value from a JSON body: strings as sent, booleans and numbers as JSON text,
    null to remove the value."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValidationError(
        f"the value of {key} must be a string, number, boolean or null", Code.INVALID_PROPERTY_VALUE
    )


def _checked_value(prop: Property, value: str | None) -> str | None:
    if value is None:
        return None
    if prop.type == "multi_line_text":
        limit, allowed = MULTI_LINE_MAX, "\t\n\r"
    else:
        limit, allowed = SINGLE_LINE_MAX, ""
    if len(value) > limit:
        raise ValidationError(
            f"the value of {prop.key} must be at most {limit} characters",
            Code.PROPERTY_VALUE_TOO_LONG,
        )
    if any((ord(ch) < 0x20 and ch not in allowed) or ch == "\x7f" for ch in value):
        raise ValidationError(
            f"the value of {prop.key} contains characters a {prop.type} property cannot hold",
            Code.INVALID_PROPERTY_VALUE,
        )
    return value


def _require_subject(uow: UnitOfWork, context: str, subject_id: str) -> None:
    if not subject_id or not uow[PROPERTIES_REPO].subject_exists(context, subject_id):
        message, code = _SUBJECT_NOT_FOUND[context]
        raise NotFound(message, code)


def get_values(storage: Storage, context: str, subject_id: str) -> list[PropertyValue]:
    """Every property of the subject's context, with the subject's value or None."""
    with storage.read() as uow:
        _require_subject(uow, context, subject_id)
        return uow[PROPERTIES_REPO].values(context, subject_id)


def set_values(
    storage: Storage, context: str, subject_id: str, values: Mapping[str, str | None]
) -> None:
    """Set (or, with None, remove) values by property key; all or nothing.

    Every key must name a property of ``context``; every value must fit its type. Each
    value that changes records ``property_value.updated`` (set or changed) or
    ``property_value.deleted`` (removed), naming the subject as Kinde does.
    """
    try:
        with storage.transaction() as uow:
            _require_subject(uow, context, subject_id)
            found = uow[PROPERTIES_REPO].by_keys(list(values))
            pairs: list[tuple[str, str | None]] = []
            changed: list[tuple[Property, str | None]] = []
            for key, value in values.items():
                prop = found.get(key)
                if prop is None:
                    raise ValidationError(f"No property has the key {key}", Code.PROPERTY_NOT_FOUND)
                if prop.context != context:
                    raise ValidationError(
                        f"The property {key} does not apply to {_CONTEXT_NAMES[context]}",
                        Code.PROPERTY_CONTEXT_MISMATCH,
                    )
                stored = _checked_value(prop, value)
                pairs.append((prop.id, stored))
                changed.append((prop, stored))
            before = {
                v.property.id: v.value for v in uow[PROPERTIES_REPO].values(context, subject_id)
            }
            uow[PROPERTIES_REPO].set_values(context, subject_id, pairs)
            name, field = _SUBJECTS[context]
            for prop, stored in changed:
                if before.get(prop.id) == stored:
                    continue
                data: dict[str, Any] = {
                    "property": {"id": prop.id, "key": prop.key},
                    name: {field: subject_id},
                }
                if stored is None:
                    uow.record(EventType.PROPERTY_VALUE_DELETED, data)
                else:
                    uow.record(EventType.PROPERTY_VALUE_UPDATED, {**data, "value": stored})
    except IntegrityViolation:
        # PostgreSQL: the subject or a property was deleted by a concurrent request.
        raise Conflict(
            "The subject or a property was deleted meanwhile; nothing was changed",
            Code.CONCURRENT_DELETE,
        ) from None


def update_values(storage: Storage, context: str, subject_id: str, body: Mapping[str, Any]) -> None:
    """``PATCH …/properties``: body ``{"properties": {key: value}}``, at most ``MAX_BULK``."""
    raw = decode_body(body, ValuesBody).properties
    if raw is None:
        raise ValidationError("properties is required", Code.PROPERTIES_REQUIRED)
    if not isinstance(raw, dict):
        raise ValidationError(
            "properties must be an object of keys and values", Code.INVALID_PROPERTIES
        )
    if not raw:
        raise ValidationError(
            "properties must name at least one property", Code.PROPERTIES_REQUIRED
        )
    if len(raw) > MAX_BULK:
        raise ValidationError(
            f"at most {MAX_BULK} properties per request", Code.TOO_MANY_PROPERTIES
        )
    set_values(storage, context, subject_id, {k: _wire_value(v, k) for k, v in raw.items()})


def update_value(storage: Storage, context: str, subject_id: str, key: str, value: Any) -> None:
    """``PUT …/properties/{key}``: one value (a string; for applications also a boolean)."""
    if value is None:
        raise ValidationError("value is required", Code.VALUE_REQUIRED)
    if not isinstance(value, str | bool):
        raise ValidationError("value must be a string or a boolean", Code.INVALID_VALUE)
    set_values(storage, context, subject_id, {key: _wire_value(value, key)})
